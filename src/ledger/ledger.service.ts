import type { EntityManager } from 'typeorm';
import type { Frequency } from '../campaigns/campaign.entity';
import type { LedgerEntryKind, LedgerSource } from './ledger-entry.entity';
import { TotalsAccumulator } from './totals-accumulator';

export interface NewGift {
  kind: 'gift';
  campaignId: string;
  donorId: string | null;
  amount: number;
  currency: string;
  feeCoverAmount?: number;
  source: LedgerSource;
  frequency: Frequency | null;
  renewal?: boolean;
  checkoutIntentId?: string | null;
  stripeCheckoutSessionId?: string | null;
  stripeInvoiceId?: string | null;
  stripePaymentIntentId?: string | null;
  stripeSubscriptionId?: string | null;
  occurredAt: Date;
}

export interface NewAdjustment {
  /** refund and dispute_lost subtract; refund_reversal adds back a refund that failed after it succeeded. */
  kind: 'refund' | 'dispute_lost' | 'refund_reversal';
  /** The gift this adjusts; campaign, donor and currency come from it. */
  giftEntryId: string;
  /** Positive amount to subtract (or, for a reversal, to add back), in minor units. */
  amount: number;
  currency: string;
  stripeRefundId?: string | null;
  stripeDisputeId?: string | null;
  occurredAt: Date;
}

export type LedgerInput = NewGift | NewAdjustment;

export interface RecordResult {
  /** false when a row with the same Stripe id already exists: the call was a replay. */
  created: boolean;
  entryId: string | null;
}

export class LedgerError extends Error {}

/**
 * The one way money enters the ledger, whatever its source (webhook, reconciliation, offline gift).
 * Must run inside the caller's transaction: it inserts the entry (a replay of the same Stripe
 * object is a no-op thanks to the UNIQUE Stripe ids) and moves the kept totals by the same amount.
 *
 * With `totals`, the totals move is only gathered there and the caller flushes it before its
 * commit (the webhook worker does, once per batch); without, it is written here at once.
 */
export async function recordLedgerEntry(tx: EntityManager, input: LedgerInput, totals?: TotalsAccumulator): Promise<RecordResult> {
  if (!tx.queryRunner?.isTransactionActive) throw new LedgerError('recordLedgerEntry must run inside a transaction');
  if (!Number.isSafeInteger(input.amount) || input.amount <= 0) {
    throw new LedgerError(`Ledger amounts are positive integers in minor units, got ${input.amount}`);
  }
  const moves = totals ?? new TotalsAccumulator();
  const result = input.kind === 'gift' ? await recordGift(tx, input, moves) : await recordAdjustment(tx, input, moves);
  if (!totals) await moves.flush(tx);
  return result;
}

async function recordGift(tx: EntityManager, gift: NewGift, totals: TotalsAccumulator): Promise<RecordResult> {
  // The campaign and currency checks ride on the insert (one round trip per gift); when nothing
  // was inserted, the slow path below tells an unknown campaign or a currency mismatch from a replay.
  const currency = gift.currency.toLowerCase();
  const rows: { id: string }[] = await tx.query(
    `INSERT INTO ledger_entries (campaign_id, donor_id, kind, amount, currency, fee_cover_amount, source, frequency, renewal,
        checkout_intent_id, stripe_checkout_session_id, stripe_invoice_id, stripe_payment_intent_id, stripe_subscription_id, occurred_at)
     SELECT c.id, $2, 'gift', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14
       FROM campaigns c WHERE c.id = $1 AND c.currency = $4
     ON CONFLICT DO NOTHING
     RETURNING id`,
    [gift.campaignId, gift.donorId, gift.amount, currency, gift.feeCoverAmount ?? 0, gift.source,
      gift.frequency, gift.renewal ?? false, gift.checkoutIntentId ?? null, gift.stripeCheckoutSessionId ?? null,
      gift.stripeInvoiceId ?? null, gift.stripePaymentIntentId ?? null, gift.stripeSubscriptionId ?? null, gift.occurredAt],
  );
  if (rows.length === 0) {
    const [campaign] = await tx.query(`SELECT currency FROM campaigns WHERE id = $1`, [gift.campaignId]);
    if (!campaign) throw new LedgerError(`Unknown campaign ${gift.campaignId}`);
    assertSameCurrency(campaign.currency, gift.currency);
    await assertReplayOf(tx, 'gift', [
      ['stripe_checkout_session_id', gift.stripeCheckoutSessionId],
      ['stripe_invoice_id', gift.stripeInvoiceId],
      ['stripe_payment_intent_id', gift.stripePaymentIntentId],
    ]);
    return { created: false, entryId: null };
  }

  const donorBecameCounted = gift.donorId ? await moveDonorNet(tx, gift.campaignId, gift.donorId, gift.amount) : 0;
  totals.add(gift.campaignId, { raised: gift.amount, gifts: 1, donors: donorBecameCounted });
  return { created: true, entryId: rows[0].id };
}

async function recordAdjustment(tx: EntityManager, adj: NewAdjustment, totals: TotalsAccumulator): Promise<RecordResult> {
  const [gift] = await tx.query(`SELECT id, campaign_id, donor_id, currency FROM ledger_entries WHERE id = $1 AND kind = 'gift'`, [adj.giftEntryId]);
  if (!gift) throw new LedgerError(`Unknown gift ${adj.giftEntryId}`);
  assertSameCurrency(gift.currency, adj.currency);
  // Serialises adjustments of one gift, so its net is read after any concurrent adjustment commits.
  await tx.query(`SELECT id FROM ledger_entries WHERE id = $1 FOR UPDATE`, [gift.id]);
  if (adj.kind === 'refund_reversal') await assertReversible(tx, gift.id, adj);
  const netBefore = await giftNet(tx, gift.id);

  const signed = adj.kind === 'refund_reversal' ? adj.amount : -adj.amount;
  const rows: { id: string }[] = await tx.query(
    `INSERT INTO ledger_entries (campaign_id, donor_id, kind, amount, currency, source, gift_entry_id,
        stripe_refund_id, stripe_dispute_id, occurred_at)
     VALUES ($1, $2, $3, $4, $5, 'stripe', $6, $7, $8, $9)
     ON CONFLICT DO NOTHING
     RETURNING id`,
    [gift.campaign_id, gift.donor_id, adj.kind satisfies LedgerEntryKind, signed, gift.currency, gift.id,
      adj.stripeRefundId ?? null, adj.stripeDisputeId ?? null, adj.occurredAt],
  );
  if (rows.length === 0) {
    await assertReplayOf(tx, adj.kind, [['stripe_refund_id', adj.stripeRefundId], ['stripe_dispute_id', adj.stripeDisputeId]]);
    return { created: false, entryId: null };
  }

  const netAfter = netBefore + signed;
  const giftCountChange = netBefore > 0 && netAfter <= 0 ? -1 : netBefore <= 0 && netAfter > 0 ? 1 : 0;
  const donorChange = gift.donor_id ? await moveDonorNet(tx, gift.campaign_id, gift.donor_id, signed) : 0;
  totals.add(gift.campaign_id, { raised: signed, gifts: giftCountChange, donors: donorChange });
  return { created: true, entryId: rows[0].id };
}

/** A reversal gives back exactly a refund this gift recorded, never money that was not taken. */
async function assertReversible(tx: EntityManager, giftId: string, adj: NewAdjustment) {
  if (!adj.stripeRefundId) throw new LedgerError('A refund reversal names the refund it reverses');
  const [refund] = await tx.query(
    `SELECT amount FROM ledger_entries WHERE stripe_refund_id = $1 AND kind = 'refund' AND gift_entry_id = $2`,
    [adj.stripeRefundId, giftId],
  );
  if (!refund) throw new LedgerError(`No recorded refund ${adj.stripeRefundId} of gift ${giftId} to reverse`);
  if (-Number(refund.amount) !== adj.amount) {
    throw new LedgerError(`Refund ${adj.stripeRefundId} took ${-Number(refund.amount)}, its reversal gives back ${adj.amount}`);
  }
}

/**
 * A conflict on insert must be the same Stripe object recorded again (a replay). Anything else
 * (say, an invoice whose PaymentIntent is already another gift's) would silently drop money.
 */
async function assertReplayOf(tx: EntityManager, kind: LedgerEntryKind, identity: [column: string, value: string | null | undefined][]) {
  const [column, value] = identity.find(([, v]) => v) ?? [];
  const [existing] = column ? await tx.query(`SELECT id FROM ledger_entries WHERE ${column} = $1 AND kind = $2`, [value, kind]) : [];
  if (!existing) throw new LedgerError(`Ledger entry conflicts with a different entry on a Stripe id (${identity.map(([c, v]) => `${c}=${v ?? '-'}`).join(', ')})`);
}

function assertSameCurrency(expected: string, actual: string) {
  if (expected.trim().toLowerCase() !== actual.toLowerCase()) {
    throw new LedgerError(`Currency mismatch: campaign counts in ${expected}, entry is in ${actual}`);
  }
}

async function giftNet(tx: EntityManager, giftId: string): Promise<number> {
  const [row] = await tx.query(
    `SELECT COALESCE(SUM(amount), 0)::bigint AS net FROM ledger_entries WHERE id = $1 OR gift_entry_id = $1`,
    [giftId],
  );
  return Number(row.net);
}

/** Moves a donor's net for the campaign; returns +1 / -1 when they start / stop counting as a donor. */
async function moveDonorNet(tx: EntityManager, campaignId: string, donorId: string, delta: number): Promise<number> {
  const [row] = await tx.query(
    `INSERT INTO campaign_donor_totals (campaign_id, donor_id, net_amount) VALUES ($1, $2, $3)
     ON CONFLICT (campaign_id, donor_id) DO UPDATE SET net_amount = campaign_donor_totals.net_amount + EXCLUDED.net_amount
     RETURNING net_amount`,
    [campaignId, donorId, delta],
  );
  const after = Number(row.net_amount);
  const before = after - delta;
  if (before <= 0 && after > 0) return 1;
  if (before > 0 && after <= 0) return -1;
  return 0;
}

export async function findGiftByPaymentIntent(tx: EntityManager, paymentIntentId: string): Promise<{ id: string } | null> {
  const [gift] = await tx.query(`SELECT id FROM ledger_entries WHERE stripe_payment_intent_id = $1 AND kind = 'gift'`, [paymentIntentId]);
  return gift ?? null;
}

export async function refundIsRecorded(tx: EntityManager, stripeRefundId: string): Promise<boolean> {
  const rows = await tx.query(`SELECT 1 FROM ledger_entries WHERE stripe_refund_id = $1 AND kind = 'refund'`, [stripeRefundId]);
  return rows.length > 0;
}

export interface Totals {
  raised: number;
  gifts: number;
  donors: number;
}

/** Totals computed from the ledger alone: what the kept totals must always equal. */
export async function recomputeTotals(manager: EntityManager, campaignId: string): Promise<Totals> {
  const [row] = await manager.query(
    `WITH gift_net AS (
       SELECT g.id, g.donor_id, g.amount + COALESCE((SELECT SUM(a.amount) FROM ledger_entries a WHERE a.gift_entry_id = g.id), 0) AS net
         FROM ledger_entries g
        WHERE g.campaign_id = $1 AND g.kind = 'gift'
     ), donor_net AS (
       SELECT donor_id, SUM(net) AS net FROM gift_net WHERE donor_id IS NOT NULL GROUP BY donor_id
     )
     SELECT (SELECT COALESCE(SUM(net), 0) FROM gift_net)::bigint AS raised,
            (SELECT COUNT(*) FROM gift_net WHERE net > 0)::int AS gifts,
            (SELECT COUNT(*) FROM donor_net WHERE net > 0)::int AS donors`,
    [campaignId],
  );
  return { raised: Number(row.raised), gifts: Number(row.gifts), donors: Number(row.donors) };
}

export async function keptTotals(manager: EntityManager, campaignId: string): Promise<Totals> {
  const [row] = await manager.query(
    `SELECT raised_amount, gift_count, donor_count FROM campaign_totals WHERE campaign_id = $1`,
    [campaignId],
  );
  return row
    ? { raised: Number(row.raised_amount), gifts: Number(row.gift_count), donors: Number(row.donor_count) }
    : { raised: 0, gifts: 0, donors: 0 };
}

export interface TotalsCheck {
  campaignId: string;
  slug: string;
  kept: Totals;
  recomputed: Totals;
  matches: boolean;
}

/**
 * Compares every campaign's kept totals with a recomputation from the ledger, all in one
 * snapshot so that gifts arriving meanwhile cannot show up as a false mismatch.
 */
export async function verifyAllTotals(manager: EntityManager): Promise<TotalsCheck[]> {
  return manager.transaction('REPEATABLE READ', async (tx) => {
    const campaigns: { id: string; slug: string }[] = await tx.query(`SELECT id, slug FROM campaigns ORDER BY slug`);
    const checks: TotalsCheck[] = [];
    for (const c of campaigns) {
      const kept = await keptTotals(tx, c.id);
      const recomputed = await recomputeTotals(tx, c.id);
      const matches = kept.raised === recomputed.raised && kept.gifts === recomputed.gifts && kept.donors === recomputed.donors;
      checks.push({ campaignId: c.id, slug: c.slug, kept, recomputed, matches });
    }
    return checks;
  });
}
