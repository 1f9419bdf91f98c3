/**
 * Checks JSON objects against the types stripe-node generates from Stripe's OpenAPI spec (its resources/*.d.ts):
 * every field a type requires is present (null where the type allows it), and no field is there that the type
 * does not know. Nested objects declared in the same file, and the first element of arrays, are checked too.
 * The declarations are read syntactically (no type checking, so it takes milliseconds, not the ~15 s a full
 * TypeScript program over stripe-node's types takes).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// The package's main entry is cjs/stripe.cjs.node.js: its resources/ sit beside it.
const RESOURCES = path.join(path.dirname(require.resolve('stripe')), 'resources');

interface Declared {
  members: ts.TypeElement[];
  /** false when it extends something in another file: then unknown fields cannot be told apart. */
  complete: boolean;
  scope: string[];
}

/** One resources/*.d.ts file: its interfaces by qualified name (`Charge`, `Charge.Outcome`, …) and type aliases. */
class DeclarationFile {
  readonly interfaces = new Map<string, Declared>();
  readonly aliases = new Map<string, { type: ts.TypeNode; scope: string[] }>();

  constructor(file: string) {
    const source = ts.createSourceFile(file, readFileSync(path.join(RESOURCES, file), 'utf8'), ts.ScriptTarget.Latest, true);
    this.collect(source.statements, []);
    for (const [name, declared] of this.interfaces) this.mergeHeritage(name, declared);
  }

  private readonly heritage = new Map<string, ts.ExpressionWithTypeArguments[]>();

  private collect(statements: ts.NodeArray<ts.Statement>, scope: string[]): void {
    for (const statement of statements) {
      if (ts.isInterfaceDeclaration(statement)) {
        const name = [...scope, statement.name.text].join('.');
        this.interfaces.set(name, { members: [...statement.members], complete: true, scope });
        const extended = statement.heritageClauses?.flatMap((h) => [...h.types]) ?? [];
        if (extended.length > 0) this.heritage.set(name, extended);
      } else if (ts.isTypeAliasDeclaration(statement)) {
        this.aliases.set([...scope, statement.name.text].join('.'), { type: statement.type, scope });
      } else if (ts.isModuleDeclaration(statement) && statement.body && ts.isModuleBlock(statement.body)) {
        this.collect(statement.body.statements, [...scope, statement.name.text]);
      }
    }
  }

  private mergeHeritage(name: string, declared: Declared): void {
    for (const parent of this.heritage.get(name) ?? []) {
      const found = this.resolve(parent.expression.getText(), declared.scope);
      if (found && 'members' in found) declared.members.push(...found.members);
      else declared.complete = false;
    }
    this.heritage.delete(name);
  }

  /** A name as written inside `scope`, looked up from the innermost namespace outwards. */
  resolve(name: string, scope: string[]): Declared | { type: ts.TypeNode; scope: string[] } | undefined {
    for (let depth = scope.length; depth >= 0; depth--) {
      const qualified = [...scope.slice(0, depth), name].join('.');
      const found = this.interfaces.get(qualified) ?? this.aliases.get(qualified);
      if (found) return found;
    }
    return undefined;
  }
}

export class StripeShapes {
  private readonly files = new Map<string, DeclarationFile>();

  /** Mismatches as `missing path` / `extra path`; empty when `value` fits interface `name` of resources/`file`. */
  check(file: string, name: string, value: unknown, label = name): string[] {
    let declarations = this.files.get(file);
    if (!declarations) {
      declarations = new DeclarationFile(file);
      this.files.set(file, declarations);
    }
    const declared = declarations.interfaces.get(name);
    if (!declared) throw new Error(`no interface ${name} in ${file}`);
    const problems: string[] = [];
    this.checkInterface(declarations, declared, value, label, problems);
    return problems;
  }

  private checkInterface(file: DeclarationFile, declared: Declared, value: unknown, at: string, problems: string[]): void {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    if (declared.members.length === 0) return; // opaque, like an event's data.object (checked on its own)
    const record = value as Record<string, unknown>;
    const known = new Set<string>();
    let indexed = false;
    for (const member of declared.members) {
      if (ts.isIndexSignatureDeclaration(member)) indexed = true;
      if (!ts.isPropertySignature(member) || !member.type) continue;
      const name = member.name.getText();
      known.add(name);
      if (!(name in record)) {
        if (!member.questionToken) problems.push(`missing ${at}.${name}`);
        continue;
      }
      const scope = [...declared.scope, ...this.ownName(file, declared)];
      this.checkType(file, member.type, scope, record[name], `${at}.${name}`, problems);
    }
    if (indexed || !declared.complete) return;
    for (const key of Object.keys(record)) {
      // Stripe sends total_count on embedded lists (subscription items, invoice lines); ApiList does not declare it.
      if (key === 'total_count' && record.object === 'list') continue;
      if (!known.has(key)) problems.push(`extra ${at}.${key}`);
    }
  }

  /** Members of `Charge` name their nested types relative to namespace `Charge`. */
  private ownName(file: DeclarationFile, declared: Declared): string[] {
    for (const [name, d] of file.interfaces) if (d === declared) return [name.split('.').pop()!];
    return [];
  }

  private checkType(file: DeclarationFile, type: ts.TypeNode, scope: string[], value: unknown, at: string, problems: string[]): void {
    if (value === null || typeof value !== 'object') return;
    if (ts.isUnionTypeNode(type)) {
      // `string | Customer | null` (expandable) and the like: check only when one member can be an object.
      const objects = type.types.filter((t) => ts.isTypeReferenceNode(t) || ts.isArrayTypeNode(t) || ts.isTypeLiteralNode(t));
      if (objects.length === 1) this.checkType(file, objects[0]!, scope, value, at, problems);
      return;
    }
    if (ts.isArrayTypeNode(type)) {
      if (Array.isArray(value) && value.length > 0) this.checkType(file, type.elementType, scope, value[0], `${at}[0]`, problems);
      return;
    }
    if (ts.isTypeLiteralNode(type)) {
      this.checkInterface(file, { members: [...type.members], complete: true, scope }, value, at, problems);
      return;
    }
    if (!ts.isTypeReferenceNode(type)) return;
    const name = type.typeName.getText();
    if (name === 'Array' && type.typeArguments?.[0]) {
      if (Array.isArray(value) && value.length > 0) this.checkType(file, type.typeArguments[0], scope, value[0], `${at}[0]`, problems);
      return;
    }
    const found = file.resolve(name, scope);
    if (!found) return; // declared in another file (expanded objects): not followed
    if ('members' in found) this.checkInterface(file, found, value, at, problems);
    else this.checkType(file, found.type, found.scope, value, at, problems);
  }
}
