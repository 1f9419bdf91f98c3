import type { DataSource, EntityManager } from 'typeorm';
import { asUuid } from '../../donations/checkout-intent.service';
import { DONOR_EMAIL, DONOR_NAME } from './gift-list';

export interface GiftRecord {
  id: string;
  occurredAt: Date;
  amount: number;
  feeCoverAmount: number;
  currency: string;
  source: 'stripe' | 'offline';
  frequency: 'once' | 'monthly' | 'annual' | null;
  renewal: boolean;
  campaign: { id: string; slug: string; title: string; holdComments: boolean };
  donor: { id: string | null; name: string | null; email: string | null; erased: boolean };
  /** How an offline gift was paid, as recorded with it; null for a Stripe gift. */
  offline: { method: string; reference: string | null; note: string | null; receivedOn: string; voidReason: string | null } | null;
  stripe: { checkoutSession: string | null; paymentIntent: string | null; invoice: string | null; subscription: string | null };
  /** What the donor put on the public wall, and its moderation state; null without a checkout intent. */
  wall: { intentId: string; name: string | null; comment: string | null; anonymous: boolean; hiddenAt: Date | null; approvedAt: Date | null } | null;
}

export interface Adjustment {
  id: string;
  kind: 'refund' | 'dispute_lost' | 'refund_reversal' | string;
  amount: number;
  occurredAt: Date;
  stripeRefundId: string | null;
  stripeDisputeId: string | null;
}

export interface RefundRequest {
  id: string;
  /** The form's key: sending it again retries this request under the same Stripe idempotency key. */
  requestKey: string;
  amount: number;
  currency: string;
  status: 'sending' | 'sent' | 'failed';
  /** Stripe's refund event arrived and the ledger recorded it. */
  confirmed: boolean;
  stripeRefundId: string | null;
  error: string | null;
  by: string | null;
  createdAt: Date;
}

export interface GiftEvent {
  id: string;
  type: string;
  status: string;
  stripeCreatedAt: Date;
  outcomeReason: string | null;
  lastError: string | null;
}

/** A gift (a ledger row of kind 'gift') by id; null for an unknown or malformed id. */
export async function findGift(manager: EntityManager, idText: string, opts: { lock?: boolean } = {}): Promise<GiftRecord | null> {
  const id = asUuid(idText);
  if (!id) return null;
  const [row] = await manager.query(
    `SELECT g.id, g.occurred_at, g.amount, g.fee_cover_amount, g.currency, g.source, g.frequency, g.renewal,
            g.stripe_checkout_session_id, g.stripe_payment_intent_id, g.stripe_invoice_id, g.stripe_subscription_id,
            c.id AS campaign_id, c.slug, c.title, c.hold_comments,
            d.id AS donor_id, ${DONOR_NAME} AS donor_name, ${DONOR_EMAIL} AS donor_email, d.erased_at IS NOT NULL AS donor_erased,
            og.method AS offline_method, og.reference AS offline_reference, og.note AS offline_note, og.received_on::text AS received_on, og.void_reason,
            ci.id AS intent_id, ci.donor_name AS wall_name, ci.comment, ci.anonymous, ci.comment_hidden_at, ci.comment_approved_at
       FROM ledger_entries g
       JOIN campaigns c ON c.id = g.campaign_id
       LEFT JOIN donors d ON d.id = g.donor_id
       LEFT JOIN checkout_intents ci ON ci.id = g.checkout_intent_id
       LEFT JOIN offline_gifts og ON og.entry_id = g.id
      WHERE g.id = $1 AND g.kind = 'gift'
      ${opts.lock ? 'FOR UPDATE OF g' : ''}`,
    [id],
  );
  if (!row) return null;
  return {
    id: row.id,
    occurredAt: new Date(row.occurred_at),
    amount: Number(row.amount),
    feeCoverAmount: Number(row.fee_cover_amount),
    currency: row.currency,
    source: row.source,
    frequency: row.frequency,
    renewal: row.renewal,
    campaign: { id: row.campaign_id, slug: row.slug, title: row.title, holdComments: row.hold_comments },
    donor: { id: row.donor_id, name: row.donor_name, email: row.donor_email, erased: row.donor_erased },
    offline: row.offline_method
      ? { method: row.offline_method, reference: row.offline_reference, note: row.offline_note, receivedOn: row.received_on, voidReason: row.void_reason }
      : null,
    stripe: { checkoutSession: row.stripe_checkout_session_id, paymentIntent: row.stripe_payment_intent_id, invoice: row.stripe_invoice_id, subscription: row.stripe_subscription_id },
    wall: row.intent_id
      ? { intentId: row.intent_id, name: row.wall_name, comment: row.comment, anonymous: row.anonymous, hiddenAt: row.comment_hidden_at, approvedAt: row.comment_approved_at }
      : null,
  };
}

export async function giftAdjustments(manager: EntityManager, giftId: string): Promise<Adjustment[]> {
  const rows = await manager.query(
    `SELECT id, kind, amount, occurred_at, stripe_refund_id, stripe_dispute_id FROM ledger_entries
      WHERE gift_entry_id = $1 ORDER BY occurred_at, created_at`,
    [giftId],
  );
  return rows.map((r: Record<string, unknown>) => ({
    id: r.id as string, kind: r.kind as string, amount: Number(r.amount), occurredAt: new Date(r.occurred_at as Date),
    stripeRefundId: r.stripe_refund_id as string | null, stripeDisputeId: r.stripe_dispute_id as string | null,
  }));
}

export async function giftRefundRequests(manager: EntityManager, giftId: string): Promise<RefundRequest[]> {
  const rows = await manager.query(
    `SELECT r.id, r.request_key, r.amount, r.currency, r.status, r.stripe_refund_id, r.error, r.created_at, a.email AS by,
            EXISTS (SELECT 1 FROM ledger_entries l WHERE l.stripe_refund_id = r.stripe_refund_id AND l.kind = 'refund') AS confirmed
       FROM refund_requests r LEFT JOIN admin_accounts a ON a.id = r.admin_id
      WHERE r.gift_entry_id = $1 ORDER BY r.created_at`,
    [giftId],
  );
  return rows.map((r: Record<string, unknown>) => ({
    id: r.id as string, requestKey: r.request_key as string, amount: Number(r.amount), currency: r.currency as string, status: r.status as RefundRequest['status'],
    confirmed: r.confirmed as boolean, stripeRefundId: r.stripe_refund_id as string | null, error: r.error as string | null,
    by: r.by as string | null, createdAt: new Date(r.created_at as Date),
  }));
}

/**
 * The condition for stripe_events rows about some Stripe objects: by the id of the object an event
 * carries (any of $1, a text[]) or the PaymentIntent its charge, refund or dispute belongs to (any
 * of $2, a text[]). Both are expression indexes (migration GiftConsoleIndexes). A gift's event
 * history and a donor's erasure (donor-erasure.ts) use it.
 */
export const STRIPE_EVENTS_ABOUT = `((payload->'data'->'object'->>'id') = ANY($1::text[])
   OR (payload->'data'->'object'->>'payment_intent' IS NOT NULL AND (payload->'data'->'object'->>'payment_intent') = ANY($2::text[])))`;

/**
 * The stripe_events rows about this gift's Stripe objects (STRIPE_EVENTS_ABOUT): its session,
 * PaymentIntent, invoice, subscription, refunds and disputes, and events of its PaymentIntent.
 */
export async function giftEvents(dataSource: DataSource, gift: GiftRecord, adjustments: Adjustment[], requests: RefundRequest[], limit = 100): Promise<GiftEvent[]> {
  const objectIds = [gift.stripe.checkoutSession, gift.stripe.paymentIntent, gift.stripe.invoice, gift.stripe.subscription,
    ...adjustments.flatMap((a) => [a.stripeRefundId, a.stripeDisputeId]), ...requests.map((r) => r.stripeRefundId)]
    .filter((id): id is string => Boolean(id));
  if (objectIds.length === 0) return [];
  const rows = await dataSource.query(
    `SELECT id, type, status, stripe_created_at, outcome_reason, last_error FROM stripe_events
      WHERE ${STRIPE_EVENTS_ABOUT}
      ORDER BY stripe_created_at, received_at LIMIT $3`,
    [[...new Set(objectIds)], gift.stripe.paymentIntent ? [gift.stripe.paymentIntent] : [], limit],
  );
  return rows.map((r: Record<string, unknown>) => ({
    id: r.id as string, type: r.type as string, status: r.status as string, stripeCreatedAt: new Date(r.stripe_created_at as Date),
    outcomeReason: r.outcome_reason as string | null, lastError: r.last_error as string | null,
  }));
}

/**
 * What can still be refunded, read in the refund's transaction (gift-refunds.ts; the gift page
 * reckons the same from the rows it shows): the gift's net (refunds, lost disputes and anything else the ledger
 * took back already subtracted) less refunds asked of Stripe that its events have not confirmed yet.
 */
export async function refundableAmount(manager: EntityManager, giftId: string): Promise<{ net: number; pending: number; refundable: number }> {
  const [row] = await manager.query(
    `SELECT (SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE id = $1 OR gift_entry_id = $1) AS net,
            (SELECT coalesce(sum(r.amount), 0) FROM refund_requests r
              WHERE r.gift_entry_id = $1 AND r.status IN ('sending', 'sent')
                AND NOT EXISTS (SELECT 1 FROM ledger_entries l WHERE l.stripe_refund_id = r.stripe_refund_id AND l.kind = 'refund')) AS pending`,
    [giftId],
  );
  const net = Number(row.net);
  const pending = Number(row.pending);
  return { net, pending, refundable: Math.max(0, net - pending) };
}
