import type { RecurringGift } from './recurring-gift.entity';

/** Statuses after which a plan charges nothing ever again. */
export const ENDED_STATUSES: ReadonlySet<string> = new Set(['canceled', 'incomplete_expired']);

/** `date` plus whole months in UTC, kept to the month's last day (January 31 + 1 month = February 28 or 29). */
export function addMonthsUtc(date: Date, months: number): Date {
  const target = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1,
    date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(date.getUTCDate(), lastDay));
  return target;
}

/**
 * When the plan will next charge, as far as Kettle knows: the end of the current period, or,
 * while paused until a date, the first renewal on or after it (invoices before it are voided).
 * Null when nothing more will be charged (ended, or ending at the period's end) or not known.
 */
export function nextChargeAt(plan: Pick<RecurringGift, 'status' | 'cancelAtPeriodEnd' | 'currentPeriodEnd' | 'paused' | 'pauseResumesAt' | 'interval'>): Date | null {
  if (ENDED_STATUSES.has(plan.status) || plan.cancelAtPeriodEnd || !plan.currentPeriodEnd) return null;
  if (!plan.paused) return plan.currentPeriodEnd;
  if (!plan.pauseResumesAt) return null;
  const step = plan.interval === 'year' ? 12 : 1;
  let next = plan.currentPeriodEnd;
  // Bounded: a pause lasts months, not centuries.
  for (let i = 1; next < plan.pauseResumesAt && i <= 120; i += 1) next = addMonthsUtc(plan.currentPeriodEnd, step * i);
  return next;
}
