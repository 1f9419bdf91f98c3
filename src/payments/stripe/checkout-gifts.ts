import type { EntityManager } from 'typeorm';
import type { CheckoutIntent } from '../../donations/checkout-intent.entity';
import { findIntentsForSessions, markIntentsSettled } from '../../donations/checkout-intent.service';
import { upsertDonors, type DonorIdentity } from '../../donors/donor.service';
import { queueMails, receiptMail } from '../../email/outbox';
import { recordLedgerEntries, type NewGift } from '../../ledger/ledger.service';
import type { TotalsAccumulator } from '../../ledger/totals-accumulator';
import { idOf, type Stripe } from './stripe-client';

/**
 * One-off Checkout gifts, shared by the per-event handler (event-handlers.ts) and the set-based
 * path below, so both count a paid session by the same rules.
 */

export const secondsToDate = (unixSeconds: number) => new Date(unixSeconds * 1000);

/** Finding 1: a session counts only for the intent that stored its id, with the amount and currency it asked for. */
export function sessionMatchesIntent(session: Stripe.Checkout.Session, intent: CheckoutIntent): boolean {
  return session.amount_total === intent.totalAmount && session.currency?.toLowerCase() === intent.currency.trim().toLowerCase();
}

export function donorOfSession(session: Stripe.Checkout.Session, intent: CheckoutIntent): DonorIdentity {
  return {
    email: session.customer_details?.email ?? intent.email,
    name: intent.donorName ?? session.customer_details?.name,
    stripeCustomerId: idOf(session.customer),
  };
}

/** The ledger gift of a paid one-off session. */
export function giftOfSession(event: Stripe.Event, session: Stripe.Checkout.Session, intent: CheckoutIntent, donorId: string | null): NewGift {
  return {
    kind: 'gift',
    campaignId: intent.campaignId,
    donorId,
    amount: session.amount_total!,
    currency: session.currency!,
    feeCoverAmount: feeCoverOf(intent, session.amount_total!),
    source: 'stripe',
    frequency: 'once',
    checkoutIntentId: intent.id,
    stripeCheckoutSessionId: session.id,
    stripePaymentIntentId: idOf(session.payment_intent),
    occurredAt: secondsToDate(event.created),
  };
}

/** The part of a payment that covered fees, when the amount is still the one the supporter chose. */
export function feeCoverOf(intent: CheckoutIntent, amountPaid: number): number {
  return amountPaid === intent.totalAmount ? intent.feeCoverAmount : 0;
}

export interface GiftEvent {
  id: string;
  event: Stripe.Event;
}

export interface GiftOutcome {
  status: 'processed';
  recordedPaymentIntents: string[];
}

/** The common case of a surge, which applyPaidSessions takes: a one-off Checkout Session, paid. */
export function isPaidOneOffSession(event: Stripe.Event): boolean {
  if (event.type !== 'checkout.session.completed' && event.type !== 'checkout.session.async_payment_succeeded') return false;
  const session = event.data.object;
  return session.mode === 'payment' && session.payment_status === 'paid' && !!session.amount_total && session.amount_total > 0 && !!session.currency;
}

/**
 * Applies paid one-off Checkout Sessions set-based: a handful of statements for the whole lot
 * (intents, donors, intents settled, ledger, donor nets, receipts owed) instead of about seven per event, with
 * the same outcome as the per-event handler. Events it cannot settle on its own (a session
 * Kettle did not store, or not yet; an amount or currency that differs) are declined untouched,
 * for the per-event handler to decide. Anything else throws (a campaign counting in another
 * currency, a conflict with a different Stripe object): the caller then rolls this back and
 * applies all of them with the per-event handler, which parks the bad one.
 */
export async function applyPaidSessions(
  tx: EntityManager, events: GiftEvent[], totals: TotalsAccumulator,
): Promise<{ outcomes: Map<string, GiftOutcome>; declined: GiftEvent[] }> {
  const sessionOf = (item: GiftEvent) => item.event.data.object as Stripe.Checkout.Session;
  const intents = await findIntentsForSessions(tx, events.map((item) => sessionOf(item).id));
  const accepted: { item: GiftEvent; session: Stripe.Checkout.Session; intent: CheckoutIntent }[] = [];
  const declined: GiftEvent[] = [];
  for (const item of events) {
    const session = sessionOf(item);
    const intent = intents.get(session.id);
    if (intent && sessionMatchesIntent(session, intent)) accepted.push({ item, session, intent });
    else declined.push(item);
  }
  const outcomes = new Map<string, GiftOutcome>();
  if (accepted.length === 0) return { outcomes, declined };

  const donorIds = await upsertDonors(tx, accepted.map(({ session, intent }) => donorOfSession(session, intent)));
  await markIntentsSettled(tx, accepted.map(({ item, session, intent }, i) => ({
    intentId: intent.id, paid: true, at: secondsToDate(item.event.created), donorId: donorIds[i],
    customerId: idOf(session.customer), subscriptionId: null, sessionId: session.id,
  })));
  const gifts = accepted.map(({ item, session, intent }, i) => giftOfSession(item.event, session, intent, donorIds[i]));
  const results = await recordLedgerEntries(tx, gifts, totals);
  await queueMails(tx, results.flatMap((result, i) => {
    const donorId = donorIds[i];
    return result.created && result.entryId && donorId ? [receiptMail(result.entryId, donorId)] : [];
  }));
  accepted.forEach(({ item }, i) => {
    const paymentIntentId = gifts[i].stripePaymentIntentId;
    outcomes.set(item.id, { status: 'processed', recordedPaymentIntents: results[i].created && paymentIntentId ? [paymentIntentId] : [] });
  });
  return { outcomes, declined };
}
