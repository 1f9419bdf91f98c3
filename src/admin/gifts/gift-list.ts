import type { DataSource } from 'typeorm';
import { csvMoney, type CsvColumn, type CsvQuery } from '../exports/csv-export';
import { giftFilterSql, type GiftFilters } from './gift-filters';

/** One gift as the list and the export show it. Amounts in minor units. */
export interface GiftRow {
  id: string;
  occurred_at: Date;
  /** occurred_at to the microsecond, as the keyset cursor needs it (a JS Date keeps milliseconds only). */
  at_text: string;
  amount: string;
  /** Every adjustment summed (negative: refunds, lost disputes, voids; positive: refund reversals). */
  adjusted: string;
  /** The void's part of `adjusted` (negative or 0): an offline gift entered by mistake, not money given back. */
  voided: string;
  fee_cover_amount: string;
  currency: string;
  source: 'stripe' | 'offline';
  frequency: 'once' | 'monthly' | 'annual' | null;
  renewal: boolean;
  stripe_payment_intent_id: string | null;
  campaign_slug: string;
  donor_name: string | null;
  donor_email: string | null;
  offline_method: string | null;
  offline_reference: string | null;
  dedication: string | null;
}

/** Where a page starts: after this gift, in (occurred_at DESC, id DESC) order. */
export interface GiftCursor {
  at: string;
  id: string;
}

export const PAGE_SIZE = 50;
const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function parseCursor(text: unknown): GiftCursor | null | 'invalid' {
  if (text === undefined || text === '') return null;
  const match = typeof text === 'string' ? CURSOR.exec(text) : null;
  return match && isRealInstant(match[1]) ? { at: match[1], id: match[2] } : 'invalid';
}

/** A cursor's time that Postgres takes: a real day and time (not 2026-02-30 nor 25:61), from year 1. */
function isRealInstant(at: string): boolean {
  const millis = `${at.slice(0, 23)}Z`;
  const parsed = new Date(millis);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString() === millis && !at.startsWith('0000');
}

const cursorText = (row: GiftRow) => `${row.at_text}_${row.id}`;

/** The donor record's name and email, else what they typed at checkout; nothing of an erased donor (their gifts stay). */
export const DONOR_NAME = `CASE WHEN d.erased_at IS NULL THEN coalesce(d.name, ci.donor_name) END`;
export const DONOR_EMAIL = `CASE WHEN d.erased_at IS NULL THEN coalesce(d.email, ci.email) END`;

/**
 * A gift with its donor, campaign, offline details, and its adjustments (refunds, lost disputes, voids…)
 * summed, the void apart (a per-gift lookup on gift_entry_id, as before).
 */
const GIFT_SELECT = `
  SELECT g.id, g.occurred_at, to_char(g.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_text,
         g.amount, g.fee_cover_amount, g.currency, g.source, g.frequency, g.renewal, g.stripe_payment_intent_id,
         c.slug AS campaign_slug, ${DONOR_NAME} AS donor_name, ${DONOR_EMAIL} AS donor_email,
         CASE WHEN d.erased_at IS NULL THEN ci.dedication END AS dedication,
         adj.adjusted, adj.voided,
         og.method AS offline_method, og.reference AS offline_reference
    FROM ledger_entries g
    JOIN campaigns c ON c.id = g.campaign_id
    LEFT JOIN donors d ON d.id = g.donor_id
    LEFT JOIN checkout_intents ci ON ci.id = g.checkout_intent_id
    LEFT JOIN offline_gifts og ON og.entry_id = g.id
    CROSS JOIN LATERAL (
      SELECT coalesce(sum(a.amount), 0) AS adjusted, coalesce(sum(a.amount) FILTER (WHERE a.kind = 'void'), 0) AS voided
        FROM ledger_entries a WHERE a.gift_entry_id = g.id) adj`;

/**
 * One page of gifts, newest first, after `cursor`: a walk down ledger_entries_gift_recent_idx from
 * the cursor, so page 500 costs what page 1 costs. One row more than a page says whether there is a next.
 */
export async function listGifts(dataSource: DataSource, filters: GiftFilters, cursor: GiftCursor | null): Promise<{ rows: GiftRow[]; next: string | null }> {
  const { conditions, params } = giftFilterSql(filters);
  if (cursor) {
    params.push(cursor.at, cursor.id);
    conditions.push(`(g.occurred_at, g.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(PAGE_SIZE + 1);
  const rows: GiftRow[] = await dataSource.query(
    `${GIFT_SELECT} WHERE ${conditions.join(' AND ')} ORDER BY g.occurred_at DESC, g.id DESC LIMIT $${params.length}`,
    params,
  );
  const page = rows.slice(0, PAGE_SIZE);
  return { rows: page, next: rows.length > PAGE_SIZE ? cursorText(page[page.length - 1]) : null };
}

const KIND_LABELS = { once: 'One-off', monthly: 'Monthly', annual: 'Annual' } as const;

export function giftKind(row: { frequency: GiftRow['frequency']; renewal: boolean }): string {
  const label = row.frequency ? KIND_LABELS[row.frequency] : 'One-off';
  return row.renewal ? `${label} (renewal)` : label;
}

export const sourceLabel = (source: GiftRow['source']) => (source === 'offline' ? 'Offline' : 'Online');

/** Given back: refunds and lost disputes, less refund reversals (a void is not money given back). */
export const refundedOf = (row: GiftRow) => Number(row.voided) - Number(row.adjusted);
export const voidedOf = (row: GiftRow) => -Number(row.voided);
export const netOf = (row: GiftRow) => Number(row.amount) + Number(row.adjusted);

const GIFT_COLUMNS: CsvColumn<GiftRow>[] = [
  { header: 'gift_id', cell: (r) => r.id },
  { header: 'date', cell: (r) => new Date(r.occurred_at).toISOString() },
  { header: 'campaign', cell: (r) => r.campaign_slug },
  { header: 'donor_name', cell: (r) => r.donor_name, text: true },
  { header: 'donor_email', cell: (r) => r.donor_email, text: true },
  { header: 'kind', cell: (r) => giftKind(r) },
  { header: 'source', cell: (r) => sourceLabel(r.source).toLowerCase() },
  { header: 'currency', cell: (r) => r.currency.toUpperCase() },
  { header: 'amount', cell: (r) => csvMoney(Number(r.amount), r.currency) },
  // The part of amount the donor added to cover the fees.
  { header: 'fee_cover', cell: (r) => csvMoney(Number(r.fee_cover_amount), r.currency) },
  { header: 'refunded', cell: (r) => csvMoney(refundedOf(r), r.currency) },
  { header: 'voided', cell: (r) => csvMoney(voidedOf(r), r.currency) },
  { header: 'net', cell: (r) => csvMoney(netOf(r), r.currency) },
  { header: 'stripe_payment_intent', cell: (r) => r.stripe_payment_intent_id },
  { header: 'offline_method', cell: (r) => r.offline_method },
  { header: 'offline_reference', cell: (r) => r.offline_reference, text: true },
  { header: 'dedication', cell: (r) => r.dedication, text: true },
];

/** Every gift the filters select, newest first, as the CSV exporter streams it. */
export function giftsCsvQuery(filters: GiftFilters): CsvQuery<GiftRow> {
  const { conditions, params } = giftFilterSql(filters);
  return {
    filename: `gifts-${new Date().toISOString().slice(0, 10)}.csv`,
    columns: GIFT_COLUMNS,
    sql: `${GIFT_SELECT} WHERE ${conditions.join(' AND ')} ORDER BY g.occurred_at DESC, g.id DESC`,
    params,
  };
}

