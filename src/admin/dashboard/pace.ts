/** The dashboard's arithmetic about time: days left, what each day still needs, where the pace leads. Pure, so `now` is explicit. */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
const PACE_WINDOW_MS = 7 * DAY_MS;

export type PaceState = 'open' | 'not_started' | 'ended' | 'no_end_date';

export interface Pace {
  state: PaceState;
  /** Whole days until the end, counting a started day as a day (as the public page does); null without an end date. */
  daysLeft: number | null;
  /** What the goal still needs (0 once it is met). */
  remaining: number;
  /** remaining spread over daysLeft, rounded up to a minor unit; on the last day all that remains. Null when ended or without an end date. */
  perDayNeeded: number | null;
  /** Net money (gifts less refunds and lost disputes) in the pace window. */
  paceWindowNet: number;
  /** The pace window: the last 7 days, or since the start if the campaign is younger. */
  paceWindowDays: number;
  /** raised plus the pace window's money per millisecond times the time left, rounded; the final total once ended; null without an end date or a window. */
  projectedTotal: number | null;
}

export interface PaceInput {
  goal: number;
  raised: number;
  startsAt: Date;
  endsAt: Date | null;
  now: Date;
  /** Net ledger money from paceWindow(startsAt, now).from until now. */
  paceWindowNet: number;
}

/** Where the last-7-days pace is read from: 7 days back, but never before the campaign started. */
export function paceWindowStart(startsAt: Date, now: Date): Date {
  return new Date(Math.max(startsAt.getTime(), now.getTime() - PACE_WINDOW_MS));
}

export function paceOf(input: PaceInput): Pace {
  const { goal, raised, startsAt, endsAt, now, paceWindowNet } = input;
  const remaining = Math.max(0, goal - raised);
  const windowMs = Math.max(0, now.getTime() - paceWindowStart(startsAt, now).getTime());
  const common = { remaining, paceWindowNet, paceWindowDays: Math.round((windowMs / DAY_MS) * 100) / 100 };
  if (!endsAt) return { ...common, state: 'no_end_date', daysLeft: null, perDayNeeded: null, projectedTotal: null };
  if (endsAt.getTime() <= now.getTime()) return { ...common, state: 'ended', daysLeft: 0, perDayNeeded: null, projectedTotal: raised };

  const notStarted = startsAt.getTime() > now.getTime();
  // Before the start, the days to give are the campaign's own.
  const msLeft = endsAt.getTime() - Math.max(now.getTime(), startsAt.getTime());
  const daysLeft = Math.ceil(msLeft / DAY_MS);
  const perDayNeeded = remaining === 0 ? 0 : Math.ceil(remaining / daysLeft);
  const projectedTotal = windowMs > 0 ? raised + Math.round((paceWindowNet * (endsAt.getTime() - now.getTime())) / windowMs) : null;
  return { ...common, state: notStarted ? 'not_started' : 'open', daysLeft, perDayNeeded, projectedTotal };
}

export type Bucket = 'day' | 'hour';

/** The most points the chart draws (a bit over a year of days): each is an index range read every refresh. */
export const MAX_POINTS = 400;

/**
 * The chart's buckets (UTC): a day each, or an hour each on the campaign's final 24 hours and for
 * a campaign no longer than a day. From the first bucket to the one holding `until`, at most MAX_POINTS of them.
 */
export function seriesBuckets(startsAt: Date, endsAt: Date | null, now: Date, until: Date): { bucket: Bucket; from: Date; to: Date } | null {
  const campaignIsOneDay = endsAt !== null && endsAt.getTime() - startsAt.getTime() <= DAY_MS;
  const onFinalDay = endsAt !== null && now.getTime() < endsAt.getTime() && endsAt.getTime() - now.getTime() <= DAY_MS;
  const bucket: Bucket = campaignIsOneDay || onFinalDay ? 'hour' : 'day';
  const size = bucket === 'hour' ? HOUR_MS : DAY_MS;
  const firstAt = bucket === 'hour' && !campaignIsOneDay ? new Date(endsAt!.getTime() - DAY_MS) : startsAt;
  const to = floorTo(until, size);
  // A long-running campaign (or a start typed centuries early) charts its last MAX_POINTS buckets; earlier money starts the running total.
  const from = new Date(Math.max(floorTo(firstAt, size).getTime(), to.getTime() - (MAX_POINTS - 1) * size));
  return to.getTime() < from.getTime() ? null : { bucket, from, to };
}

const floorTo = (at: Date, size: number) => new Date(Math.floor(at.getTime() / size) * size);

/** One twelfth of an annual amount, rounded half up to a minor unit (applied once, to the sum of annual plans). */
export function monthlyShareOfAnnual(annualMinor: number): number {
  return Math.floor((annualMinor * 2 + 12) / 24);
}
