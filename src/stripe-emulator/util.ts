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
