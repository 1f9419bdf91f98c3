import type { DataSource, EntityManager } from 'typeorm';
import { minorToMajorString } from '../money';
import { CheckoutIntent } from './checkout-intent.entity';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID-shaped string or null: ids that came back from Stripe metadata are only trusted in that shape. */
export function asUuid(value: unknown): string | null {
  return typeof value === 'string' && UUID.test(value) ? value : null;
}

/** Our checkout intent for a Checkout Session: only the one that stored this session id when it created it. */
export function findIntentForSession(tx: EntityManager, sessionId: string): Promise<CheckoutIntent | null> {
  return tx.getRepository(CheckoutIntent).findOneBy({ stripeCheckoutSessionId: sessionId });
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

/** Links what Checkout learned (donor, customer, subscription); `paid` also completes the intent. */
export async function markIntentSettled(
  tx: EntityManager,
  intentId: string,
  settled: { paid: boolean; at: Date; donorId: string | null; customerId: string | null; subscriptionId: string | null; sessionId: string },
): Promise<void> {
  await tx.query(
    `UPDATE checkout_intents
        SET status = CASE WHEN $2 THEN 'completed' ELSE status END,
            completed_at = CASE WHEN $2 THEN COALESCE(completed_at, $3) ELSE completed_at END,
            donor_id = COALESCE(donor_id, $4), stripe_customer_id = COALESCE(stripe_customer_id, $5),
            stripe_subscription_id = COALESCE(stripe_subscription_id, $6),
            stripe_checkout_session_id = COALESCE(stripe_checkout_session_id, $7), updated_at = now()
      WHERE id = $1`,
    [intentId, settled.paid, settled.at, settled.donorId, settled.customerId, settled.subscriptionId, settled.sessionId],
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
