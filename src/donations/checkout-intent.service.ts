import { In, type DataSource, type EntityManager } from 'typeorm';
import { minorToMajorString } from '../money';
import { CheckoutIntent } from './checkout-intent.entity';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID-shaped string or null: ids that came back from Stripe metadata are only trusted in that shape. */
export function asUuid(value: unknown): string | null {
  return typeof value === 'string' && UUID.test(value) ? value : null;
}

/** Our checkout intent for a Checkout Session: only the one that stored this session id when it created it. */
export async function findIntentForSession(tx: EntityManager, sessionId: string): Promise<CheckoutIntent | null> {
  return (await findIntentsForSessions(tx, [sessionId])).get(sessionId) ?? null;
}

/** findIntentForSession for many sessions in one query, keyed by session id. */
export async function findIntentsForSessions(tx: EntityManager, sessionIds: string[]): Promise<Map<string, CheckoutIntent>> {
  const intents = await tx.getRepository(CheckoutIntent).findBy({ stripeCheckoutSessionId: In([...new Set(sessionIds)]) });
  return new Map(intents.map((intent) => [intent.stripeCheckoutSessionId!, intent]));
}

/**
 * True while the named intent is between asking Stripe for its Checkout Session and storing the
 * session's id (CheckoutService.start): a webhook for that session may arrive in that window.
 */
export async function intentStillStarting(tx: EntityManager, reference: string | null): Promise<boolean> {
  const id = asUuid(reference);
  if (!id) return false;
  const rows = await tx.query(`SELECT 1 FROM checkout_intents WHERE id = $1 AND status = 'pending' AND stripe_checkout_session_id IS NULL`, [id]);
  return rows.length > 0;
}

export function findIntent(tx: EntityManager, id: string | null): Promise<CheckoutIntent | null> {
  return id ? tx.getRepository(CheckoutIntent).findOneBy({ id }) : Promise.resolve(null);
}

export interface IntentSettlement {
  paid: boolean;
  at: Date;
  donorId: string | null;
  customerId: string | null;
  subscriptionId: string | null;
  sessionId: string;
}

/** Links what Checkout learned (donor, customer, subscription); `paid` also completes the intent. */
export function markIntentSettled(tx: EntityManager, intentId: string, settled: IntentSettlement): Promise<void> {
  return markIntentsSettled(tx, [{ intentId, ...settled }]);
}

/**
 * markIntentSettled for many intents in one statement, with the same outcome as one by one in
 * the given order (the first to fill a field wins). Rows are locked in id order first, so
 * concurrent batches cannot deadlock on them.
 */
export async function markIntentsSettled(tx: EntityManager, settlements: (IntentSettlement & { intentId: string })[]): Promise<void> {
  if (settlements.length === 0) return;
  // One row per intent: what one by one would leave (COALESCE keeps the first value; paid is sticky).
  const merged = new Map<string, IntentSettlement & { intentId: string }>();
  for (const s of settlements) {
    const first = merged.get(s.intentId);
    if (!first) {
      merged.set(s.intentId, { ...s });
      continue;
    }
    if (s.paid && !first.paid) { first.paid = true; first.at = s.at; }
    first.donorId ??= s.donorId;
    first.customerId ??= s.customerId;
    first.subscriptionId ??= s.subscriptionId;
  }
  const rows = [...merged.values()];
  await tx.query(
    `WITH locked AS (SELECT id FROM checkout_intents WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE)
     UPDATE checkout_intents c
        SET status = CASE WHEN u.paid THEN 'completed' ELSE c.status END,
            completed_at = CASE WHEN u.paid THEN COALESCE(c.completed_at, u.at) ELSE c.completed_at END,
            donor_id = COALESCE(c.donor_id, u.donor_id), stripe_customer_id = COALESCE(c.stripe_customer_id, u.customer_id),
            stripe_subscription_id = COALESCE(c.stripe_subscription_id, u.subscription_id),
            stripe_checkout_session_id = COALESCE(c.stripe_checkout_session_id, u.session_id), updated_at = now()
       FROM locked
       JOIN unnest($1::uuid[], $2::boolean[], $3::timestamptz[], $4::uuid[], $5::text[], $6::text[], $7::text[])
            AS u(id, paid, at, donor_id, customer_id, subscription_id, session_id) ON u.id = locked.id
      WHERE c.id = locked.id`,
    [rows.map((r) => r.intentId), rows.map((r) => r.paid), rows.map((r) => r.at), rows.map((r) => r.donorId),
      rows.map((r) => r.customerId), rows.map((r) => r.subscriptionId), rows.map((r) => r.sessionId)],
  );
}

/** An expired or failed Checkout never undoes a completed one. */
export async function markIntentClosed(tx: EntityManager, intentId: string, status: 'expired' | 'failed'): Promise<void> {
  await tx.query(`UPDATE checkout_intents SET status = $2, updated_at = now() WHERE id = $1 AND status <> 'completed'`, [intentId, status]);
}

/**
 * What the supporter entered for a checkout they started (and did not pay), as form values, to
 * fill the form in again when they come back from Checkout.
 */
export async function unpaidCheckoutFormValues(dataSource: DataSource, campaignId: string, intentId: string | null) {
  const intent = intentId ? await dataSource.getRepository(CheckoutIntent).findOneBy({ id: intentId, campaignId }) : null;
  if (!intent || intent.status === 'completed') return undefined;
  const yes = (on: boolean) => (on ? 'yes' : '');
  return {
    amount: minorToMajorString(intent.donationAmount, intent.currency),
    frequency: intent.frequency,
    email: intent.email,
    name: intent.donorName ?? '',
    comment: intent.comment ?? '',
    dedication: intent.dedication ?? '',
    anonymous: yes(intent.anonymous),
    cover_fees: yes(intent.feeCoverAmount > 0),
    newsletter: yes(intent.newsletter),
  };
}
