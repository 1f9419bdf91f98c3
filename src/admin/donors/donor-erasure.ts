import type { DataSource, EntityManager } from 'typeorm';
import { FORGET_EVENT_PAYLOAD, FORGET_INTENT_PERSONAL_DATA } from '../../privacy/retention.service';
import { audit } from '../accounts/admin-accounts.service';
import { STRIPE_EVENTS_ABOUT } from '../gifts/gift-detail';
import { stillCharging } from './donor-profile';

export type ErasureOutcome =
  | { kind: 'erased' }
  | { kind: 'not_found' }
  | { kind: 'already_erased' }
  /** The confirmation typed was neither the donor's email nor ERASE. */
  | { kind: 'unconfirmed' }
  /** Plans that can still charge the donor: they are canceled first, on this page. */
  | { kind: 'plans_still_charging'; plans: number }
  /** Webhook events about the donor's gifts that the inbox has yet to apply: erased after they are. */
  | { kind: 'events_waiting'; events: number };

/** What the admin types to confirm: the donor's email (any case) or the word ERASE. */
const confirmsErasure = (typed: unknown, email: string): boolean =>
  typeof typed === 'string' && (typed.trim() === 'ERASE' || typed.trim().toLowerCase() === email.toLowerCase());

/** The donor's checkout intents: linked to them, behind their gifts, or abandoned under their email (no donor id). */
const DONOR_INTENTS = `donor_id = $1
   OR id IN (SELECT checkout_intent_id FROM ledger_entries WHERE donor_id = $1 AND checkout_intent_id IS NOT NULL)
   OR (email <> '' AND lower(email) = lower($2))`;

/**
 * The ids of the donor's Stripe objects that events carry: their Customers (customer.* events),
 * checkout sessions, subscriptions, invoices, PaymentIntents, refunds and disputes, from their
 * ledger rows (gifts and what adjusted them), intents, plans and customers.
 */
async function donorStripeObjects(tx: EntityManager, donorId: string, email: string): Promise<{ objectIds: string[]; paymentIntentIds: string[] }> {
  const [ids]: { objectIds: string[]; paymentIntentIds: string[] }[] = await tx.query(
    `WITH entries AS (
       SELECT * FROM ledger_entries
        WHERE donor_id = $1 OR gift_entry_id IN (SELECT id FROM ledger_entries WHERE donor_id = $1 AND kind = 'gift')),
     objects AS (
       SELECT unnest(ARRAY[stripe_checkout_session_id, stripe_invoice_id, stripe_payment_intent_id, stripe_subscription_id, stripe_refund_id, stripe_dispute_id]) AS id FROM entries
       UNION SELECT unnest(ARRAY[stripe_checkout_session_id, stripe_customer_id, stripe_subscription_id]) FROM checkout_intents WHERE ${DONOR_INTENTS}
       UNION SELECT unnest(ARRAY[stripe_subscription_id, stripe_customer_id]) FROM recurring_gifts WHERE donor_id = $1
       UNION SELECT stripe_customer_id FROM donor_stripe_customers WHERE donor_id = $1)
     SELECT (SELECT coalesce(array_agg(id), '{}') FROM objects WHERE id IS NOT NULL) AS "objectIds",
            (SELECT coalesce(array_agg(DISTINCT stripe_payment_intent_id), '{}') FROM entries WHERE stripe_payment_intent_id IS NOT NULL) AS "paymentIntentIds"`,
    [donorId, email],
  );
  return ids;
}

/**
 * Erases a donor's personal data, in one transaction, keeping every ledger row as it is (amounts,
 * dates, campaign, the donor id they point at), so no total changes:
 * - the donor row keeps its id; its email becomes `erased+<id>@invalid` (still unique, never
 *   deliverable), its name goes, and erased_at says when;
 * - their checkout intents (linked to them, behind their gifts, or abandoned under their email)
 *   lose what the retention purge takes from abandoned ones (FORGET_INTENT_PERSONAL_DATA): email,
 *   name, comment, dedication, newsletter consent. The donor wall shows no name for those gifts;
 * - the Stripe webhook events about their Customers, sessions, subscriptions, invoices, payments,
 *   refunds and disputes that the inbox is done with (processed, ignored or parked as failed) lose
 *   their payload as the retention purge empties it (FORGET_EVENT_PAYLOAD): id, type, status, dates
 *   and the object's id stay. A parked one can no longer be retried (webhook-health.ts);
 * - their offline gifts lose the free text typed beside them (note, reference, void reason);
 *   method, date received and amounts stay. The audit rows of offline gifts never held that text;
 * - mail still owed to them is closed as skipped; the outbox never held addresses or bodies, and
 *   the mail worker sends nothing to an erased donor (outbox-delivery.ts);
 * - their sign-in links and signed-in sessions are deleted; manage links stop working (sign-in.service.ts).
 * Refused while a plan can still charge them: an erasure cannot be undone, so it does not also
 * end payments at Stripe behind the admin's back; the page offers to cancel each plan first.
 * Refused too while an event about them still waits in the inbox (received, retrying or deferred):
 * applying it needs its payload (emptied, the gift it carries would never count), and applying it
 * after the erasure would write back what was erased (a session's email and name make a donor).
 * Such events are applied or parked within minutes to hours; the erasure is then done as usual.
 * Events Stripe sends later about their objects (a dispute months on) carry what Stripe holds and
 * are emptied by the retention purge.
 * The audit row says what was done, never what was erased.
 */
export async function eraseDonor(dataSource: DataSource, donorId: string, typed: unknown, adminId: string): Promise<ErasureOutcome> {
  return dataSource.transaction(async (tx) => {
    const [donor]: { id: string; email: string; name: string | null; erased_at: Date | null }[] = await tx.query(
      `SELECT id, email, name, erased_at FROM donors WHERE id = $1 FOR UPDATE`,
      [donorId],
    );
    if (!donor) return { kind: 'not_found' };
    if (donor.erased_at) return { kind: 'already_erased' };
    if (!confirmsErasure(typed, donor.email)) return { kind: 'unconfirmed' };
    const plans: { status: string; cancelAtPeriodEnd: boolean; cancelAt: Date | null }[] = await tx.query(
      `SELECT status, cancel_at_period_end AS "cancelAtPeriodEnd", cancel_at AS "cancelAt" FROM recurring_gifts WHERE donor_id = $1 FOR UPDATE`,
      [donorId],
    );
    const charging = plans.filter(stillCharging).length;
    if (charging > 0) return { kind: 'plans_still_charging', plans: charging };
    // The stripe_events about the donor: $1 their objects' ids, $2 their PaymentIntents (STRIPE_EVENTS_ABOUT).
    const { objectIds, paymentIntentIds } = await donorStripeObjects(tx, donorId, donor.email);
    const [{ waiting }]: { waiting: number }[] = await tx.query(
      `SELECT count(*)::int AS waiting FROM stripe_events WHERE status IN ('received', 'deferred') AND ${STRIPE_EVENTS_ABOUT}`,
      [objectIds, paymentIntentIds],
    );
    if (waiting > 0) return { kind: 'events_waiting', events: waiting };

    // Abandoned intents carry no donor id, only the email: a one-off scan, as an erasure is rare.
    const [, intents] = await tx.query(
      `UPDATE checkout_intents SET ${FORGET_INTENT_PERSONAL_DATA}, updated_at = now() WHERE ${DONOR_INTENTS}`,
      [donorId, donor.email],
    ) as [unknown, number];
    const [, eventPayloads] = await tx.query(
      `UPDATE stripe_events SET ${FORGET_EVENT_PAYLOAD}
        WHERE status IN ('processed', 'ignored', 'failed') AND payload_purged_at IS NULL AND ${STRIPE_EVENTS_ABOUT}`,
      [objectIds, paymentIntentIds],
    ) as [unknown, number];
    const [, offlineGifts] = await tx.query(
      `UPDATE offline_gifts SET note = NULL, reference = NULL, void_reason = NULL
        WHERE entry_id IN (SELECT id FROM ledger_entries WHERE donor_id = $1 AND kind = 'gift' AND source = 'offline')
          AND (note IS NOT NULL OR reference IS NOT NULL OR void_reason IS NOT NULL)`,
      [donorId],
    ) as [unknown, number];
    const [, mails] = await tx.query(
      `UPDATE email_outbox SET status = 'skipped', last_error = 'the donor was erased', locked_until = NULL, claim_token = NULL
        WHERE donor_id = $1 AND status = 'pending'`,
      [donorId],
    ) as [unknown, number];
    const [, signInLinks] = await tx.query(`DELETE FROM donor_sign_in_tokens WHERE donor_id = $1`, [donorId]) as [unknown, number];
    const [, sessions] = await tx.query(`DELETE FROM web_sessions WHERE sess->>'donorId' = $1`, [donorId]) as [unknown, number];
    await tx.query(
      `UPDATE donors SET email = 'erased+' || id || '@invalid', name = NULL, erased_at = now(), updated_at = now() WHERE id = $1`,
      [donorId],
    );
    await audit(tx, {
      adminId, action: 'donor.erase', subjectType: 'donor', subjectId: donorId,
      after: { checkoutIntentsCleared: intents, eventPayloadsCleared: eventPayloads, offlineGiftsCleared: offlineGifts, mailsStopped: mails, signInLinksDeleted: signInLinks, sessionsEnded: sessions },
    });
    return { kind: 'erased' };
  });
}
