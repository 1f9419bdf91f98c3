/**
 * Stripe's Search Query Language, the subset the emulator needs: `field:'value'` (exact, case-insensitive),
 * `field~'value'` (substring, at least 3 characters), a leading `-` to negate, `metadata['key']:'value'`,
 * `created>123` (also <, >=, <=, =), clauses joined by all-AND or all-OR. Unlike Stripe, results are
 * immediate (Stripe's index can lag by up to a minute).
 */
import { invalidRequest } from './errors';
import { optInt, optString, type Params } from './params';

export interface SearchResult<T> {
  object: 'search_result';
  data: T[];
  has_more: boolean;
  next_page: string | null;
  url: string;
}

type Clause = (item: Record<string, unknown>) => boolean;

const CLAUSE = /^(-)?(?:metadata\[(['"])(.+?)\2\]|([a-z_]+))\s*(:|~|>=|<=|>|<|=)\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(-?\d+))$/;

function badQuery(query: string, why: string) {
  return invalidRequest(`Invalid search query: ${why} (query: ${query}).`, 'query');
}

function parseClause(raw: string, fields: readonly string[], query: string): Clause {
  const m = CLAUSE.exec(raw.trim());
  if (!m) throw badQuery(query, `cannot parse \`${raw.trim()}\``);
  const [, negate, , metadataKey, field, op, single, double, number] = m;
  const text = (single ?? double)?.replace(/\\(.)/g, '$1');
  let test: Clause;
  if (metadataKey !== undefined) {
    if (op !== ':' || text === undefined) throw badQuery(query, 'metadata supports only exact match with a quoted value');
    test = (item) => (item.metadata as Record<string, string> | undefined)?.[metadataKey] === text;
  } else if (field === 'created') {
    if (number === undefined || op === ':' || op === '~') throw badQuery(query, 'created takes a number and one of =, >, <, >=, <=');
    const n = Number(number);
    const compare = { '=': (a: number) => a === n, '>': (a: number) => a > n, '<': (a: number) => a < n, '>=': (a: number) => a >= n, '<=': (a: number) => a <= n }[op as '='];
    test = (item) => compare(Number(item.created));
  } else {
    if (!fields.includes(field!)) throw badQuery(query, `the field \`${field}\` is not supported; use one of ${fields.join(', ')}, metadata['key'], created`);
    if (text === undefined || (op !== ':' && op !== '~')) throw badQuery(query, `${field} takes : or ~ with a quoted value`);
    if (op === '~' && text.length < 3) throw badQuery(query, 'substring matching (~) needs at least 3 characters');
    const wanted = text.toLowerCase();
    test = (item) => {
      const value = item[field!];
      if (typeof value !== 'string') return false;
      return op === ':' ? value.toLowerCase() === wanted : value.toLowerCase().includes(wanted);
    };
  }
  return negate ? (item) => !test(item) : test;
}

/** Splits on AND/OR outside quotes. */
function splitClauses(query: string): { clauses: string[]; joiners: string[] } {
  const clauses: string[] = [];
  const joiners: string[] = [];
  let current = '';
  let quote: string | null = null;
  const words = query.split(/(\s+)/);
  for (const word of words) {
    if (!quote && (word === 'AND' || word === 'OR')) {
      clauses.push(current);
      joiners.push(word);
      current = '';
      continue;
    }
    for (let i = 0; i < word.length; i++) {
      const ch = word[i]!;
      if (ch === '\\') i++;
      else if (quote && ch === quote) quote = null;
      else if (!quote && (ch === "'" || ch === '"')) quote = ch;
    }
    current += word;
  }
  clauses.push(current);
  return { clauses, joiners };
}

export function searchFilter(query: string, fields: readonly string[]): Clause {
  if (query.trim() === '') throw badQuery(query, 'the query is empty');
  const { clauses, joiners } = splitClauses(query);
  if (new Set(joiners).size > 1) throw badQuery(query, 'AND and OR cannot be combined in one query');
  if (clauses.length > 10) throw badQuery(query, 'at most 10 clauses');
  const tests = clauses.map((c) => parseClause(c, fields, query));
  return joiners[0] === 'OR' ? (item) => tests.some((t) => t(item)) : (item) => tests.every((t) => t(item));
}

/** `page` is the opaque cursor from the previous page's `next_page`. */
export function searchPage<T extends object>(items: T[], params: Params, url: string): SearchResult<T> {
  const limit = optInt(params, 'limit') ?? 10;
  if (limit < 1 || limit > 100) throw invalidRequest('This value must be between 1 and 100.', 'limit');
  const page = optString(params, 'page');
  let from = 0;
  if (page) {
    const decoded = /^emu_page_(\d+)$/.exec(Buffer.from(page, 'base64url').toString('utf8'));
    if (!decoded) throw invalidRequest('Invalid page: it must be the next_page of a previous search.', 'page');
    from = Number(decoded[1]);
  }
  const data = items.slice(from, from + limit);
  const hasMore = from + limit < items.length;
  return { object: 'search_result', data, has_more: hasMore, next_page: hasMore ? Buffer.from(`emu_page_${from + limit}`).toString('base64url') : null, url };
}
