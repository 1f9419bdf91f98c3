import { yearBounds } from '../../account/statements.service';
import { csvMoney, type CsvColumn, type CsvQuery } from './csv-export';

/** Erased donors are left out of every export (their gifts stay in the ledger, without anyone's name on them). */
const NOT_ERASED = `d.erased_at IS NULL`;

interface DonorRow {
  donor_id: string;
  email: string;
  name: string | null;
  currency: string;
  gifts: number;
  first_gift_at: Date;
  last_gift_at: Date;
  given: string;
  refunded: string;
  voided: string;
}

const DONOR_COLUMNS: CsvColumn<DonorRow>[] = [
  { header: 'donor_id', cell: (r) => r.donor_id },
  { header: 'email', cell: (r) => r.email, text: true },
  { header: 'name', cell: (r) => r.name, text: true },
  { header: 'currency', cell: (r) => r.currency.trim().toUpperCase() },
  { header: 'gifts', cell: (r) => r.gifts },
  { header: 'first_gift_at', cell: (r) => new Date(r.first_gift_at).toISOString() },
  { header: 'last_gift_at', cell: (r) => new Date(r.last_gift_at).toISOString() },
  { header: 'given', cell: (r) => csvMoney(r.given, r.currency) },
  // Refunds and lost disputes, less refund reversals: what was given back of these gifts since.
  { header: 'refunded', cell: (r) => csvMoney(0 - Number(r.refunded), r.currency) },
  // Offline gifts recorded by mistake (or bounced): never given, so apart from refunds.
  { header: 'voided', cell: (r) => csvMoney(0 - Number(r.voided), r.currency) },
  { header: 'net', cell: (r) => csvMoney(Number(r.given) + Number(r.refunded) + Number(r.voided), r.currency) },
];

/**
 * One row per donor and currency (a donor who gave in two currencies has two rows): amounts never
 * add up across currencies, and the columns stay the same whatever currencies campaigns use.
 * With a year, only that calendar year's gifts (UTC), each with what was refunded of it since,
 * as on the donor's yearly statement.
 */
export function donorsExport(year: number | null): CsvQuery<DonorRow> {
  const range = year === null ? [null, null] : yearBounds(year);
  return {
    filename: year === null ? 'donors.csv' : `donors-${year}.csv`,
    columns: DONOR_COLUMNS,
    sql: `
      SELECT d.id AS donor_id, d.email, d.name, g.currency,
             count(*)::int AS gifts, min(g.occurred_at) AS first_gift_at, max(g.occurred_at) AS last_gift_at,
             sum(g.amount)::bigint AS given, COALESCE(sum(adj.refunded), 0)::bigint AS refunded, COALESCE(sum(adj.voided), 0)::bigint AS voided
        FROM ledger_entries g
        JOIN donors d ON d.id = g.donor_id
        LEFT JOIN (SELECT gift_entry_id, sum(amount) FILTER (WHERE kind <> 'void') AS refunded, sum(amount) FILTER (WHERE kind = 'void') AS voided
                     FROM ledger_entries WHERE gift_entry_id IS NOT NULL GROUP BY gift_entry_id) adj
               ON adj.gift_entry_id = g.id
       WHERE g.kind = 'gift' AND ${NOT_ERASED}
         AND ($1::timestamptz IS NULL OR g.occurred_at >= $1) AND ($2::timestamptz IS NULL OR g.occurred_at < $2)
       GROUP BY d.id, g.currency
       ORDER BY lower(d.email), d.id, g.currency`,
    params: range,
  };
}

interface SubscriberRow {
  email: string;
  donor_name: string | null;
  consented_at: Date;
  campaign_slug: string;
}

/**
 * Everyone who asked for the email digest when they gave: one row per address, from their latest
 * gift that ticked the box (its name, its campaign, when they ticked it). Only checkouts that became
 * a gift count (a form filled in with someone else's address and never paid is nobody's consent);
 * purged checkouts and erased donors are left out.
 */
export function subscribersExport(): CsvQuery<SubscriberRow> {
  return {
    filename: 'subscribers.csv',
    columns: [
      { header: 'email', cell: (r) => r.email, text: true },
      { header: 'name', cell: (r) => r.donor_name, text: true },
      { header: 'consented_at', cell: (r) => new Date(r.consented_at).toISOString() },
      { header: 'campaign', cell: (r) => r.campaign_slug },
    ],
    sql: `
      SELECT DISTINCT ON (lower(btrim(i.email))) btrim(i.email) AS email, i.donor_name, i.created_at AS consented_at, c.slug AS campaign_slug
        FROM checkout_intents i
        JOIN campaigns c ON c.id = i.campaign_id
        LEFT JOIN donors d ON d.id = i.donor_id
       WHERE i.newsletter AND i.status = 'completed' AND i.personal_data_purged_at IS NULL AND btrim(i.email) <> ''
         AND (i.donor_id IS NULL OR ${NOT_ERASED})
       ORDER BY lower(btrim(i.email)), i.created_at DESC, i.id DESC`,
    params: [],
  };
}
