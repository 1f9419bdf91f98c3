import { randomInt } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Stripe-like id: prefix + 24 random alphanumerics, e.g. `ch_3Qx…`. */
export function newId(prefix: string): string {
  let out = prefix;
  for (let i = 0; i < 24; i++) out += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return out;
}

/** Unix seconds, as every Stripe timestamp. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export type Interval = 'day' | 'week' | 'month' | 'year';
export const INTERVALS: readonly Interval[] = ['day', 'week', 'month', 'year'];

/**
 * `from` plus `count` intervals. Months and years clamp to the end of shorter months
 * (Jan 31 + 1 month = Feb 28/29), as Stripe's billing does.
 */
export function addInterval(from: number, interval: Interval, count: number): number {
  if (interval === 'day') return from + count * 86_400;
  if (interval === 'week') return from + count * 7 * 86_400;
  const d = new Date(from * 1000);
  const months = interval === 'month' ? count : count * 12;
  const target = d.getUTCMonth() + months;
  const year = d.getUTCFullYear() + Math.floor(target / 12);
  const month = ((target % 12) + 12) % 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(d.getUTCDate(), lastDay);
  const out = Date.UTC(year, month, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds());
  return Math.floor(out / 1000);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/**
 * Stripe's `data.previous_attributes`: the old value of every top-level field that changed. Nested hashes
 * (`invoice_settings`, `cancellation_details`, `metadata`) show only their keys that changed, as Stripe's do;
 * API objects and lists (`items`) are shown whole.
 */
export function previousAttributes(before: object, after: object): Record<string, unknown> {
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  const prev: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (JSON.stringify(a[key]) === JSON.stringify(b[key])) continue;
    const old = b[key];
    const now = a[key];
    prev[key] = isHash(old) && isHash(now) ? previousAttributes(old, now) : (old ?? null);
  }
  return prev;
}

/** A plain nested hash, as opposed to an API object or list (which carry `object`). */
function isHash(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !('object' in value);
}
