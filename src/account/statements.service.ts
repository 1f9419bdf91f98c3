import type { EntityManager } from 'typeorm';
import type { Frequency } from '../campaigns/campaign.entity';
import type { Config } from '../config';
import { OUTBOX_CHANNEL } from '../email/outbox';

/** What a statement says about the organisation (ORG_LEGAL_NAME, ORG_TAX_ID, RECEIPT_NOTE). */
export type ReceiptDetails = Config['receipts'];

export interface StatementGift {
  /** The gift's ledger entry id: its full reference. */
  entryId: string;
  occurredAt: Date;
  campaignTitle: string;
  frequency: Frequency | null;
  currency: string;
  /** What was given, in minor units. */
  amount: number;
  /** Refunds, lost disputes and a void, less refund reversals, whenever they happened; 0 when none. */
  refunded: number;
  /** An offline gift cancelled in our records (a bounced cheque, a mistake): listed, counting for nothing. */
  voided: boolean;
  net: number;
}

/** One currency's sums: a donor who gave in two currencies has two totals, never one added across them. */
export interface CurrencyTotal {
  currency: string;
  gifts: number;
  amount: number;
  refunded: number;
  net: number;
}

export interface Statement {
  year: number;
  donor: { id: string; name: string | null; email: string };
  organisation: ReceiptDetails;
  /** Oldest first. Empty when the donor gave nothing that year. */
  gifts: StatementGift[];
  /** In the order each currency first appears among the gifts. */
  totals: CurrencyTotal[];
}

/** The first year a statement can be asked for; the last is decided by the caller (this year, or next). */
export const FIRST_STATEMENT_YEAR = 2000;

/** A year as a donor or an operator types it: exactly four digits within [FIRST_STATEMENT_YEAR, latest]. */
export function parseStatementYear(input: string, latest: number): { ok: true; year: number } | { ok: false; reason: 'format' | 'range' } {
  if (!/^\d{4}$/.test(input)) return { ok: false, reason: 'format' };
  const year = Number(input);
  return year >= FIRST_STATEMENT_YEAR && year <= latest ? { ok: true, year } : { ok: false, reason: 'range' };
}

/**
 * A calendar year in UTC, as [start, end). Statements count a gift in the year its payment was
 * made, in UTC: one rule for every donor, whatever time zone they or the server are in.
 */
export function yearBounds(year: number): [start: Date, end: Date] {
  return [new Date(Date.UTC(year, 0, 1)), new Date(Date.UTC(year + 1, 0, 1))];
}

/**
 * A donor's statement for a calendar year (UTC): every gift they made that year, each with what
 * was refunded of it since (refunds and lost disputes, less refund reversals), and the totals
 * per currency. Read from the ledger alone, so it always agrees with it. Null for an unknown donor.
 */
export async function loadStatement(manager: EntityManager, donorId: string, year: number, organisation: ReceiptDetails): Promise<Statement | null> {
  const [donor]: { id: string; name: string | null; email: string }[] =
    await manager.query(`SELECT id, name, email FROM donors WHERE id = $1`, [donorId]);
  if (!donor) return null;
  const [start, end] = yearBounds(year);
  const rows: { id: string; occurred_at: Date; amount: string; currency: string; frequency: Frequency | null; title: string; adjusted: string; voided: boolean }[] =
    await manager.query(
      `SELECT g.id, g.occurred_at, g.amount, g.currency, g.frequency, c.title,
              COALESCE(SUM(a.amount), 0)::bigint AS adjusted, COALESCE(bool_or(a.kind = 'void'), false) AS voided
         FROM ledger_entries g
         JOIN campaigns c ON c.id = g.campaign_id
         LEFT JOIN ledger_entries a ON a.gift_entry_id = g.id
        WHERE g.kind = 'gift' AND g.donor_id = $1 AND g.occurred_at >= $2 AND g.occurred_at < $3
        GROUP BY g.id, c.title
        ORDER BY g.occurred_at, g.id`,
      [donorId, start, end],
    );
  const gifts = rows.map((r): StatementGift => {
    const amount = Number(r.amount);
    const refunded = 0 - Number(r.adjusted); // not -x: no -0 for a gift without adjustments
    return {
      entryId: r.id, occurredAt: r.occurred_at, campaignTitle: r.title, frequency: r.frequency,
      currency: r.currency.trim(), amount, refunded, voided: r.voided, net: amount - refunded,
    };
  });
  return { year, donor, organisation, gifts, totals: totalsPerCurrency(gifts) };
}

function totalsPerCurrency(gifts: StatementGift[]): CurrencyTotal[] {
  const totals = new Map<string, CurrencyTotal>();
  for (const gift of gifts) {
    const total = totals.get(gift.currency) ?? { currency: gift.currency, gifts: 0, amount: 0, refunded: 0, net: 0 };
    total.gifts += 1;
    total.amount += gift.amount;
    total.refunded += gift.refunded;
    total.net += gift.net;
    totals.set(gift.currency, total);
  }
  return [...totals.values()];
}

/**
 * The SQL condition, on a gift row `g`, for "this gift still counts": something of it was not
 * refunded. A donor is owed a statement mail for a year with at least one such gift.
 */
const GIFT_STILL_COUNTS = `g.amount + COALESCE((SELECT SUM(a.amount) FROM ledger_entries a WHERE a.gift_entry_id = g.id), 0) > 0`;

/**
 * Whether the statement is worth mailing: something given that year was kept. A fully refunded
 * year still has a statement page, but no "your giving statement" mail.
 */
export const statementHasGiving = (statement: Statement): boolean => statement.totals.some((t) => t.net > 0);

export interface StatementMailsQueued {
  /** Donors with giving that year. */
  donors: number;
  /** Statement mails newly queued by this call. */
  queued: number;
  /** Donors whose statement mail for the year was already queued (by an earlier run). */
  alreadyQueued: number;
}

/**
 * Queues one 'statement' mail per donor with giving in `year`, keyed `statement:<year>:<donor>`:
 * running it again (after a crash, or twice by mistake) queues nothing already queued. One
 * INSERT … SELECT whatever the number of donors; the mail worker renders each from the ledger
 * when it sends it.
 */
export async function queueStatementMails(manager: EntityManager, year: number): Promise<StatementMailsQueued> {
  const [start, end] = yearBounds(year);
  const [row]: { donors: string; queued: string }[] = await manager.query(
    `WITH giving AS (
       SELECT DISTINCT g.donor_id
         FROM ledger_entries g
        WHERE g.kind = 'gift' AND g.donor_id IS NOT NULL AND g.occurred_at >= $1 AND g.occurred_at < $2 AND ${GIFT_STILL_COUNTS}
     ), queued AS (
       INSERT INTO email_outbox (dedupe_key, kind, donor_id, params)
       SELECT 'statement:' || $3::int || ':' || donor_id, 'statement', donor_id, jsonb_build_object('year', $3::int)
         FROM giving ORDER BY 1
       ON CONFLICT (dedupe_key) DO NOTHING
       RETURNING 1
     )
     SELECT (SELECT COUNT(*) FROM giving) AS donors, (SELECT COUNT(*) FROM queued) AS queued`,
    [start, end, year],
  );
  const donors = Number(row.donors);
  const queued = Number(row.queued);
  if (queued > 0) await manager.query(`SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
  return { donors, queued, alreadyQueued: donors - queued };
}
