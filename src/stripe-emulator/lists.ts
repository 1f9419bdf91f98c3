/** List pagination, `created` filters and `expand[]`, shared by every endpoint. */
import { invalidRequest, noSuch } from './errors';
import { isRecord, optInt, optString, type Params } from './params';
import type { EmulatorStore } from './store';
import { clone } from './util';

export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

/** Stripe lists are newest first; `starting_after`/`ending_before` take ids from the previous page. */
export function paginate<T extends { id: string }>(newestFirst: T[], params: Params, url: string, kind: string): ListPage<T> {
  const limit = optInt(params, 'limit') ?? 10;
  if (limit < 1) throw invalidRequest('This value must be greater than or equal to 1.', 'limit');
  if (limit > 100) throw invalidRequest('This value must be less than or equal to 100.', 'limit');
  const startingAfter = optString(params, 'starting_after');
  const endingBefore = optString(params, 'ending_before');
  if (startingAfter && endingBefore) throw invalidRequest('You may only specify one of these parameters: starting_after, ending_before.', 'starting_after');

  if (endingBefore) {
    const index = indexOf(newestFirst, endingBefore, kind, 'ending_before');
    const from = Math.max(0, index - limit);
    return { object: 'list', data: newestFirst.slice(from, index), has_more: from > 0, url };
  }
  const from = startingAfter ? indexOf(newestFirst, startingAfter, kind, 'starting_after') + 1 : 0;
  return { object: 'list', data: newestFirst.slice(from, from + limit), has_more: from + limit < newestFirst.length, url };
}

function indexOf(items: { id: string }[], id: string, kind: string, param: string): number {
  const index = items.findIndex((item) => item.id === id);
  if (index < 0) throw noSuch(kind, id, param);
  return index;
}

/** `created=123` or `created[gte]=…&created[lt]=…`. */
export function createdFilter(params: Params, name = 'created'): (created: number) => boolean {
  const value = params[name];
  if (value === undefined) return () => true;
  if (typeof value === 'string') {
    const exact = optInt(params, name);
    return (created) => created === exact;
  }
  if (!isRecord(value)) throw invalidRequest('Invalid object', name);
  const bound = (op: string) => optInt(value, op, `${name}[${op}]`);
  const gt = bound('gt');
  const gte = bound('gte');
  const lt = bound('lt');
  const lte = bound('lte');
  for (const key of Object.keys(value)) {
    if (!['gt', 'gte', 'lt', 'lte'].includes(key)) throw invalidRequest(`Received unknown parameter: ${name}[${key}]`, `${name}[${key}]`, 'parameter_unknown');
  }
  return (created) =>
    (gt === undefined || created > gt) && (gte === undefined || created >= gte) && (lt === undefined || created < lt) && (lte === undefined || created <= lte);
}

/** Newest first, keeping creation order for objects made in the same second. */
export function newestFirst<T>(map: Map<string, T>): T[] {
  return [...map.values()].reverse();
}

/**
 * Returns a copy of `object` with the `expand[]` paths replaced by objects: ids become the objects they name,
 * and includable fields (invoice `payments`, session `line_items`) are added. Lists expand through `data.`.
 */
export function expand<T extends object>(store: EmulatorStore, object: T, paths: string[]): T {
  const out = clone(object);
  for (const path of paths) expandPath(store, out as Record<string, unknown>, path.split('.'), path);
  return out;
}

function expandPath(store: EmulatorStore, target: Record<string, unknown>, segments: string[], fullPath: string): void {
  const [field, ...rest] = segments as [string, ...string[]];
  if (target.object === 'list' && field === 'data' && Array.isArray(target.data)) {
    if (rest.length > 0) for (const item of target.data) if (isRecord(item)) expandPath(store, item, rest, fullPath);
    return;
  }
  let value = target[field];
  if (value === undefined) {
    value = includable(store, target, field);
    if (value === undefined) throw invalidRequest(`This property cannot be expanded (${fullPath}).`, 'expand');
    target[field] = value;
  } else if (typeof value === 'string') {
    const found = store.findById(value);
    if (!found) throw invalidRequest(`This property cannot be expanded (${fullPath}).`, 'expand');
    value = clone(found);
    target[field] = value;
  }
  if (rest.length === 0 || value === null) return;
  if (isRecord(value)) expandPath(store, value, rest, fullPath);
}

function includable(store: EmulatorStore, target: Record<string, unknown>, field: string): unknown {
  const id = String(target.id);
  if (target.object === 'invoice' && field === 'payments') {
    const data = [...store.invoicePayments.values()].filter((p) => p.invoice === id).reverse().map((p) => clone(p));
    return { object: 'list', data, has_more: false, total_count: data.length, url: `/v1/invoices/${id}/payments` };
  }
  if (target.object === 'checkout.session' && field === 'line_items') {
    const data = clone(store.sessionExtras.get(id)?.lineItems ?? []);
    return { object: 'list', data, has_more: false, url: `/v1/checkout/sessions/${id}/line_items` };
  }
  return undefined;
}
