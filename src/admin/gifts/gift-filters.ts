import type { DataSource } from 'typeorm';
import { likeLiteral } from '../donors/donor-directory';

/**
 * The gift list's filters, parsed once from a query string and turned into SQL: the list page and
 * the CSV export use this same module, so an export holds exactly the gifts the list shows.
 *
 * Fiscal year: `fy=2026` with `fy_start` (the month it starts, 1–12, default 1). A fiscal year is
 * named after the calendar year it ends in: fy=2026&fy_start=7 is 2025-07-01 to 2026-06-30 (UTC);
 * with fy_start=1 it is the calendar year 2026. It combines with from/to (both apply).
 */
export interface GiftFilterValues {
  campaign: string;
  from: string;
  to: string;
  fy: string;
  fy_start: string;
  frequency: string;
  source: string;
  refunded: string;
  q: string;
}

const FILTER_NAMES = ['campaign', 'from', 'to', 'fy', 'fy_start', 'frequency', 'source', 'refunded', 'q'] as const;

export interface GiftFilters {
  campaignId: string | null;
  /** Inclusive lower and exclusive upper bounds on occurred_at. */
  since: Date | null;
  until: Date | null;
  frequency: 'once' | 'recurring' | null;
  source: 'stripe' | 'offline' | null;
  refunded: boolean | null;
  search: string | null;
}

export type ParsedFilters =
  | { ok: true; filters: GiftFilters; values: GiftFilterValues }
  | { ok: false; errors: Partial<Record<keyof GiftFilterValues, string>>; values: GiftFilterValues };

const DAY_MS = 86_400_000;
const MAX_SEARCH = 200;

export interface CampaignChoice {
  id: string;
  slug: string;
  title: string;
}

/**
 * Every campaign by title, for the campaign filter and to resolve its slug (campaigns are few: tens,
 * not thousands). Read once per request and passed to parseGiftFilters.
 */
export async function campaignChoices(dataSource: DataSource): Promise<CampaignChoice[]> {
  return dataSource.query(`SELECT id, slug, title FROM campaigns ORDER BY lower(title), slug`);
}

/** Reads the filter fields of a query string (anything not a single string counts as empty). */
function filterValues(query: Record<string, unknown>): GiftFilterValues {
  const read = (name: string) => (typeof query[name] === 'string' ? (query[name] as string).trim() : '');
  return Object.fromEntries(FILTER_NAMES.map((name) => [name, read(name)])) as unknown as GiftFilterValues;
}

/** Parses and checks the filters; a campaign slug is looked up in `campaigns` (an unknown one is an error, not an empty list). */
export function parseGiftFilters(campaigns: CampaignChoice[], query: Record<string, unknown>): ParsedFilters {
  const values = filterValues(query);
  const errors: Partial<Record<keyof GiftFilterValues, string>> = {};
  const filters: GiftFilters = { campaignId: null, since: null, until: null, frequency: null, source: null, refunded: null, search: null };

  if (values.campaign) {
    const row = /^[a-z0-9-]{1,80}$/.test(values.campaign) ? campaigns.find((c) => c.slug === values.campaign) : undefined;
    if (row) filters.campaignId = row.id;
    else errors.campaign = 'No campaign has that slug.';
  }

  const from = values.from ? utcDay(values.from) : null;
  if (values.from && !from) errors.from = 'Use a date like 2026-01-31.';
  const to = values.to ? utcDay(values.to) : null;
  if (values.to && !to) errors.to = 'Use a date like 2026-12-31.';
  if (from && to && to < from) errors.to = 'Must be on or after the "from" date.';
  filters.since = from;
  filters.until = to ? new Date(to.getTime() + DAY_MS) : null;

  if (values.fy_start && !/^(?:[1-9]|1[0-2])$/.test(values.fy_start)) errors.fy_start = 'Use a month number from 1 to 12.';
  if (values.fy) {
    if (!/^\d{4}$/.test(values.fy) || Number(values.fy) < 2000 || Number(values.fy) > 2100) {
      errors.fy = 'Use a year like 2026.';
    } else if (!errors.fy_start) {
      const startMonth = Number(values.fy_start || '1');
      const year = Number(values.fy);
      // Named after the year it ends in: a year that starts in January is that calendar year.
      const fyStart = new Date(Date.UTC(startMonth === 1 ? year : year - 1, startMonth - 1, 1));
      const fyEnd = new Date(Date.UTC(fyStart.getUTCFullYear() + 1, startMonth - 1, 1));
      filters.since = filters.since && filters.since > fyStart ? filters.since : fyStart;
      filters.until = filters.until && filters.until < fyEnd ? filters.until : fyEnd;
    }
  }

  if (values.frequency) {
    if (values.frequency === 'once' || values.frequency === 'recurring') filters.frequency = values.frequency;
    else errors.frequency = 'Choose one-off or recurring.';
  }
  if (values.source) {
    if (values.source === 'online') filters.source = 'stripe';
    else if (values.source === 'offline') filters.source = 'offline';
    else errors.source = 'Choose online or offline.';
  }
  if (values.refunded) {
    if (values.refunded === 'yes' || values.refunded === 'no') filters.refunded = values.refunded === 'yes';
    else errors.refunded = 'Choose yes or no.';
  }
  if (values.q) {
    if (values.q.length > MAX_SEARCH) errors.q = `Search for at most ${MAX_SEARCH} characters.`;
    else filters.search = values.q;
  }
  return Object.keys(errors).length ? { ok: false, errors, values } : { ok: true, filters, values };
}

/** A YYYY-MM-DD that is a real day, as midnight UTC. */
function utcDay(text: string): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day ? date : null;
}

const WHOLE_EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * The WHERE conditions (on `g`, a gift row of ledger_entries) for the filters, with their parameters
 * numbered from `firstParam`. Each condition keeps the walk down the (occurred_at, id) index: the
 * donor search looks up matching donors once, by index, not per gift.
 */
export function giftFilterSql(filters: GiftFilters, firstParam = 1): { conditions: string[]; params: unknown[] } {
  // amount > 0 holds for every gift: it is ledger_entries_gift_recent_idx's predicate (see its migration).
  const conditions = [`g.kind = 'gift'`, `g.amount > 0`];
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${firstParam + params.length - 1}`;
  };
  if (filters.campaignId) conditions.push(`g.campaign_id = ${param(filters.campaignId)}`);
  if (filters.since) conditions.push(`g.occurred_at >= ${param(filters.since)}`);
  if (filters.until) conditions.push(`g.occurred_at < ${param(filters.until)}`);
  if (filters.frequency === 'once') conditions.push(`g.frequency = 'once'`);
  if (filters.frequency === 'recurring') conditions.push(`g.frequency IN ('monthly', 'annual')`);
  if (filters.source) conditions.push(`g.source = ${param(filters.source)}`);
  if (filters.refunded !== null) {
    conditions.push(`${filters.refunded ? '' : 'NOT '}EXISTS (SELECT 1 FROM ledger_entries r WHERE r.gift_entry_id = g.id AND r.kind IN ('refund', 'dispute_lost'))`);
  }
  if (filters.search && WHOLE_EMAIL.test(filters.search)) {
    // A whole address (the donor wrote to us) is that donor, through the unique index on lower(email).
    conditions.push(`g.donor_id IN (SELECT sd.id FROM donors sd WHERE lower(sd.email) = lower(${param(filters.search)}))`);
  } else if (filters.search) {
    const pattern = param(`%${likeLiteral(filters.search.toLowerCase())}%`);
    // The donor's email and name as Kettle keeps them, through their trigram indexes (migration 1764547000000).
    conditions.push(`g.donor_id IN (SELECT sd.id FROM donors sd WHERE lower(sd.email) LIKE ${pattern} OR lower(sd.name) LIKE ${pattern})`);
  }
  return { conditions, params };
}

/** The query string for the filters as typed (for links to the next page and the export). */
export function filterQueryString(values: GiftFilterValues): string {
  const params = new URLSearchParams();
  for (const name of FILTER_NAMES) if (values[name]) params.set(name, values[name]);
  return params.toString();
}
