import { randomUUID } from 'node:crypto';
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
  /**
   * An offline gift's identity (source 'offline', which has no Stripe ids): the one-time key of the
   * form that recorded it, so the same form sent again is a replay, as a Stripe id sent again is.
   */
  offlineKey?: string | null;
  occurredAt: Date;
}

export interface NewAdjustment {
  /**
   * refund and dispute_lost subtract; refund_reversal adds back a refund that failed after it
   * succeeded. void takes back all that is left of an offline gift (entered by mistake, a bounced
   * cheque): offline gifts only, once per gift, for exactly the gift's net.
   */
  kind: 'refund' | 'dispute_lost' | 'refund_reversal' | 'void';
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
 * Must run inside the caller's transaction: it inserts the entries (a replay of the same Stripe
 * object is a no-op thanks to the UNIQUE Stripe ids) and moves the kept totals by the same amounts.
 * Gifts go in set-based, a few statements for any number of them; adjustments one by one, after
 * the gifts. Results come back in the order of `inputs`.
 *
 * With `totals`, the totals moves are only gathered there and the caller flushes them before its
 * commit (the webhook worker does, once per batch); without, they are written here at once.
 */
export async function recordLedgerEntries(tx: EntityManager, inputs: LedgerInput[], totals?: TotalsAccumulator): Promise<RecordResult[]> {
  if (!tx.queryRunner?.isTransactionActive) throw new LedgerError('recordLedgerEntry must run inside a transaction');
  for (const input of inputs) {
    if (!Number.isSafeInteger(input.amount) || input.amount <= 0) {
      throw new LedgerError(`Ledger amounts are positive integers in minor units, got ${input.amount}`);
    }
    if (input.kind === 'gift') assertGiftIdentity(input);
  }
  const moves = totals ?? new TotalsAccumulator();
  const results = new Array<RecordResult>(inputs.length);
  const gifts = inputs.flatMap((input, at) => (input.kind === 'gift' ? [{ gift: input, at }] : []));
  if (gifts.length) {
    const recorded = await recordGifts(tx, gifts.map((g) => g.gift), moves);
    gifts.forEach(({ at }, i) => { results[at] = recorded[i]; });
  }
  for (const [at, input] of inputs.entries()) {
    if (input.kind !== 'gift') results[at] = await recordAdjustment(tx, input, moves);
  }
  if (!totals) await moves.flush(tx);
  return results;
}

/** recordLedgerEntries for one entry. */
export async function recordLedgerEntry(tx: EntityManager, input: LedgerInput, totals?: TotalsAccumulator): Promise<RecordResult> {
  const [result] = await recordLedgerEntries(tx, [input], totals);
  return result;
}

/** The ids that make a gift the same gift again (Stripe's, or an offline key); the first one present is its identity. */
const giftIdentity = (gift: NewGift): [column: string, value: string | null | undefined][] => [
  ['stripe_checkout_session_id', gift.stripeCheckoutSessionId],
  ['stripe_invoice_id', gift.stripeInvoiceId],
  ['stripe_payment_intent_id', gift.stripePaymentIntentId],
  ['offline_key', gift.offlineKey],
];

/**
 * A gift without an identity could be recorded twice by a replay: a Stripe gift names its Stripe
 * object, an offline gift its form key and nothing of Stripe's (the table checks the same).
 */
function assertGiftIdentity(gift: NewGift) {
  const stripeIds = [gift.stripeCheckoutSessionId, gift.stripeInvoiceId, gift.stripePaymentIntentId, gift.stripeSubscriptionId].filter(Boolean);
  if (gift.source === 'offline' && (!gift.offlineKey || stripeIds.length)) {
    throw new LedgerError('An offline gift has an offline key and no Stripe ids');
  }
  if (gift.source === 'stripe' && gift.offlineKey) throw new LedgerError('Only an offline gift has an offline key');
}

async function recordGifts(tx: EntityManager, gifts: NewGift[], totals: TotalsAccumulator): Promise<RecordResult[]> {
  // Ids made here, so the inserted rows map back to their inputs. Rows go in in the order of their
  // Stripe ids, so two transactions inserting the same gifts wait on each other's unique keys in
  // the same order and cannot deadlock; of two inputs for one Stripe object, the first given wins. The campaign and currency checks ride on the insert; rows
  // that were not inserted are told apart below (a replay, or an error).
  const ids = gifts.map(() => randomUUID());
  const column = <T>(pick: (g: NewGift) => T) => gifts.map(pick);
  const rows: { id: string }[] = await tx.query(
    `INSERT INTO ledger_entries (id, campaign_id, donor_id, kind, amount, currency, fee_cover_amount, source, frequency, renewal,
        checkout_intent_id, stripe_checkout_session_id, stripe_invoice_id, stripe_payment_intent_id, stripe_subscription_id, occurred_at,
        offline_key)
     SELECT g.id, c.id, g.donor_id, 'gift', g.amount, g.currency, g.fee_cover_amount, g.source, g.frequency, g.renewal,
            g.checkout_intent_id, g.session_id, g.invoice_id, g.payment_intent_id, g.subscription_id, g.occurred_at, g.offline_key
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::boolean[],
                   $10::uuid[], $11::text[], $12::text[], $13::text[], $14::text[], $15::timestamptz[], $16::text[]) WITH ORDINALITY
            AS g(id, campaign_id, donor_id, amount, currency, fee_cover_amount, source, frequency, renewal,
                 checkout_intent_id, session_id, invoice_id, payment_intent_id, subscription_id, occurred_at, offline_key, n)
       JOIN campaigns c ON c.id = g.campaign_id AND c.currency = g.currency
      ORDER BY g.session_id, g.invoice_id, g.payment_intent_id, g.offline_key, g.n
     ON CONFLICT DO NOTHING
     RETURNING id`,
    [ids, column((g) => g.campaignId), column((g) => g.donorId), column((g) => g.amount), column((g) => g.currency.toLowerCase()),
      column((g) => g.feeCoverAmount ?? 0), column((g) => g.source), column((g) => g.frequency), column((g) => g.renewal ?? false),
      column((g) => g.checkoutIntentId ?? null), column((g) => g.stripeCheckoutSessionId ?? null), column((g) => g.stripeInvoiceId ?? null),
      column((g) => g.stripePaymentIntentId ?? null), column((g) => g.stripeSubscriptionId ?? null), column((g) => g.occurredAt),
      column((g) => g.offlineKey ?? null)],
  );
  const inserted = new Set(rows.map((r) => r.id));
  const skipped = gifts.filter((_, i) => !inserted.has(ids[i]));
  if (skipped.length) await assertReplaysOf(tx, skipped);

  const created = gifts.filter((_, i) => inserted.has(ids[i]));
  const becameCounted = await moveDonorNets(tx, created.flatMap((g) => (g.donorId ? [{ campaignId: g.campaignId, donorId: g.donorId, delta: g.amount }] : [])));
  for (const gift of created) totals.add(gift.campaignId, { raised: gift.amount, gifts: 1, donors: 0 });
  for (const [campaignId, donors] of becameCounted) totals.add(campaignId, { raised: 0, gifts: 0, donors });
  return gifts.map((_, i) => (inserted.has(ids[i]) ? { created: true, entryId: ids[i] } : { created: false, entryId: null }));
}

/**
 * Gifts that were not inserted must each be a replay of a gift already recorded: an unknown
 * campaign, a currency the campaign does not count in, or a conflict with a different Stripe
 * object (say, an invoice whose PaymentIntent is already another gift's) would silently drop money.
 */
async function assertReplaysOf(tx: EntityManager, gifts: NewGift[]) {
  const campaigns: { id: string; currency: string }[] = await tx.query(
    `SELECT id, currency FROM campaigns WHERE id = ANY($1::uuid[])`, [[...new Set(gifts.map((g) => g.campaignId))]]);
  const currencyOf = new Map(campaigns.map((c) => [c.id, c.currency]));
  const identities = gifts.map((g) => giftIdentity(g).find(([, v]) => v) ?? null);
  const values = (name: string) => identities.flatMap((identity) => (identity?.[0] === name ? [identity[1]] : []));
  const existing: { session: string | null; invoice: string | null; payment_intent: string | null; offline_key: string | null }[] = await tx.query(
    `SELECT stripe_checkout_session_id AS session, stripe_invoice_id AS invoice, stripe_payment_intent_id AS payment_intent, offline_key
       FROM ledger_entries
      WHERE kind = 'gift' AND (stripe_checkout_session_id = ANY($1) OR stripe_invoice_id = ANY($2) OR stripe_payment_intent_id = ANY($3)
            OR offline_key = ANY($4))`,
    [values('stripe_checkout_session_id'), values('stripe_invoice_id'), values('stripe_payment_intent_id'), values('offline_key')],
  );
  const recorded = new Set(existing.flatMap((e) => [`stripe_checkout_session_id=${e.session}`, `stripe_invoice_id=${e.invoice}`,
    `stripe_payment_intent_id=${e.payment_intent}`, `offline_key=${e.offline_key}`]));
  for (const [i, gift] of gifts.entries()) {
    const currency = currencyOf.get(gift.campaignId);
    if (currency === undefined) throw new LedgerError(`Unknown campaign ${gift.campaignId}`);
    assertSameCurrency(currency, gift.currency);
    const identity = identities[i];
    if (!identity || !recorded.has(`${identity[0]}=${identity[1]}`)) {
      throw new LedgerError(`Ledger entry conflicts with a different entry on a Stripe id (${giftIdentity(gift).map(([c, v]) => `${c}=${v ?? '-'}`).join(', ')})`);
    }
  }
}

/**
 * Refunds, lost disputes, reversals and voids all come through here, so a void moves the kept
 * totals, gift count and donor count exactly as a full refund would: one door, one arithmetic.
 */
async function recordAdjustment(tx: EntityManager, adj: NewAdjustment, totals: TotalsAccumulator): Promise<RecordResult> {
  const [gift] = await tx.query(`SELECT id, campaign_id, donor_id, currency, source FROM ledger_entries WHERE id = $1 AND kind = 'gift'`, [adj.giftEntryId]);
  if (!gift) throw new LedgerError(`Unknown gift ${adj.giftEntryId}`);
  assertSameCurrency(gift.currency, adj.currency);
  // Stripe's money is taken back through Stripe (a refund); money Stripe never saw, by a void.
  const isVoid = adj.kind === 'void';
  if (isVoid !== (gift.source === 'offline')) {
    throw new LedgerError(isVoid ? `Only an offline gift can be voided; gift ${gift.id} came through Stripe` : `Gift ${gift.id} is offline: Stripe cannot adjust it`);
  }
  // Serialises adjustments of one gift, so its net is read after any concurrent adjustment commits.
  await tx.query(`SELECT id FROM ledger_entries WHERE id = $1 FOR UPDATE`, [gift.id]);
  if (adj.kind === 'refund_reversal') await assertReversible(tx, gift.id, adj);
  // A second void of the same gift is a replay: under the lock, the first one is already visible.
  if (isVoid && (await tx.query(`SELECT 1 FROM ledger_entries WHERE gift_entry_id = $1 AND kind = 'void'`, [gift.id])).length) {
    return { created: false, entryId: null };
  }
  const netBefore = await giftNet(tx, gift.id);
  // A void takes back what is left, no more (money never given) and no less (a gift half voided is a correction, not a void).
  if (isVoid && adj.amount !== netBefore) throw new LedgerError(`Gift ${gift.id} counts for ${netBefore}, a void of it takes back ${adj.amount}`);

  const signed = adj.kind === 'refund_reversal' ? adj.amount : -adj.amount;
  const rows: { id: string }[] = await tx.query(
    `INSERT INTO ledger_entries (campaign_id, donor_id, kind, amount, currency, source, gift_entry_id,
        stripe_refund_id, stripe_dispute_id, occurred_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT DO NOTHING
     RETURNING id`,
    [gift.campaign_id, gift.donor_id, adj.kind satisfies LedgerEntryKind, signed, gift.currency, isVoid ? 'offline' : 'stripe', gift.id,
      isVoid ? null : adj.stripeRefundId ?? null, isVoid ? null : adj.stripeDisputeId ?? null, adj.occurredAt],
  );
  if (rows.length === 0) {
    // The one-void-per-gift index makes a concurrent second void wait on the lock above, so only Stripe ids conflict here.
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
  const moved = await moveDonorNets(tx, [{ campaignId, donorId, delta }]);
  return moved.get(campaignId) ?? 0;
}

/**
 * Moves donors' nets, one upsert for all of them, rows taken in (campaign, donor) order so
 * concurrent transactions cannot deadlock on them. Returns, per campaign, how many donors
 * started (+) or stopped (-) counting.
 */
async function moveDonorNets(tx: EntityManager, moves: { campaignId: string; donorId: string; delta: number }[]): Promise<Map<string, number>> {
  const summed = new Map<string, { campaignId: string; donorId: string; delta: number }>();
  for (const move of moves) {
    const key = `${move.campaignId}/${move.donorId}`;
    const current = summed.get(key);
    if (current) current.delta += move.delta;
    else summed.set(key, { ...move });
  }
  const changes = new Map<string, number>();
  if (summed.size === 0) return changes;
  const rows = [...summed.values()];
  const after: { campaign_id: string; donor_id: string; net_amount: string }[] = await tx.query(
    `INSERT INTO campaign_donor_totals (campaign_id, donor_id, net_amount)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) ORDER BY 1, 2
     ON CONFLICT (campaign_id, donor_id) DO UPDATE SET net_amount = campaign_donor_totals.net_amount + EXCLUDED.net_amount
     RETURNING campaign_id, donor_id, net_amount`,
    [rows.map((r) => r.campaignId), rows.map((r) => r.donorId), rows.map((r) => r.delta)],
  );
  for (const row of after) {
    const netAfter = Number(row.net_amount);
    const netBefore = netAfter - summed.get(`${row.campaign_id}/${row.donor_id}`)!.delta;
    const change = netBefore <= 0 && netAfter > 0 ? 1 : netBefore > 0 && netAfter <= 0 ? -1 : 0;
    if (change) changes.set(row.campaign_id, (changes.get(row.campaign_id) ?? 0) + change);
  }
  return changes;
}

export async function findGiftByPaymentIntent(tx: EntityManager, paymentIntentId: string): Promise<{ id: string; donorId: string | null } | null> {
  const [gift] = await tx.query(`SELECT id, donor_id FROM ledger_entries WHERE stripe_payment_intent_id = $1 AND kind = 'gift'`, [paymentIntentId]);
  return gift ? { id: gift.id, donorId: gift.donor_id } : null;
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
