/**
 * A subscription's life: started by Checkout, renewed (advanceSubscription), its failed invoice retried
 * (retrySubscription, Smart Retries played one attempt at a time), canceled. Updates are in subscription-update.ts,
 * invoices in invoicing.ts.
 */
import type Stripe from 'stripe';
import { buildSubscription, buildSubscriptionItem, type BillingDetails } from './builders';
import { checkCard, type CardInput } from './cards';
import { invalidRequest } from './errors';
import { billSubscription, collectInvoice, invoiceToRetry, type InvoiceOutcome } from './invoicing';
import { optEnum, optObject, optString, rejectUnknown, type Params } from './params';
import { attachCard } from './payments';
import { getOr404, type EmulatorStore } from './store';
import { addInterval, clone, newId, nowSeconds, previousAttributes, type Interval } from './util';

export function periodEnd(start: number, price: Stripe.Price): number {
  const recurring = price.recurring!;
  return addInterval(start, recurring.interval as Interval, recurring.interval_count);
}

/**
 * Checkout's subscription flow after the card is accepted: subscription + first invoice, paid.
 * The caller has already checked that the card pays.
 */
export function startSubscription(
  store: EmulatorStore,
  p: {
    customer: Stripe.Customer;
    lineItems: Stripe.LineItem[];
    metadata: Record<string, string>;
    description: string | null;
    paymentMethod: Stripe.PaymentMethod;
    billing: BillingDetails;
  },
): { subscription: Stripe.Subscription; invoice: Stripe.Invoice } {
  const start = nowSeconds();
  const subscriptionId = newId('sub_');
  const items = p.lineItems.map((li) => {
    const price = li.price!;
    return buildSubscriptionItem({ subscription: subscriptionId, price, quantity: li.quantity ?? 1, periodStart: start, periodEnd: periodEnd(start, price) });
  });
  const sub = buildSubscription({
    id: subscriptionId,
    customer: p.customer.id,
    currency: p.lineItems[0]!.currency,
    items,
    metadata: p.metadata,
    defaultPaymentMethod: p.paymentMethod.id,
    description: p.description,
  });
  // As on Stripe: created `incomplete`, then `updated` to active once the first invoice is paid.
  sub.status = 'incomplete';
  store.subscriptions.set(sub.id, sub);
  store.emit('customer.subscription.created', sub);
  const { invoice } = billSubscription(store, sub, { billingReason: 'subscription_create', periodStart: start, periodEnd: start });
  const before = clone(sub);
  sub.status = 'active';
  store.emit('customer.subscription.updated', sub, previousAttributes(before, sub));
  return { subscription: sub, invoice };
}

export interface BillingControlOptions {
  /** A card that replaces the saved one first (as if the donor had changed it): 0341 makes the charge fail. */
  card?: string | CardInput;
}

/**
 * Bills the next period now: the time of the renewal is the end of the current period. A pause whose resumes_at
 * has come by then is lifted first (customer.subscription.updated), as Stripe lifts it at resumes_at.
 * Open invoices of earlier periods are left as they are (retrySubscription plays their retries).
 */
export function advanceSubscription(store: EmulatorStore, subscriptionId: string, opts: BillingControlOptions = {}): Stripe.Invoice {
  const sub = getOr404(store.subscriptions, subscriptionId, 'subscription');
  if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
    throw invalidRequest(`Subscription ${sub.id} is ${sub.status}: there is no next period to bill.`, 'subscription');
  }
  if (sub.cancel_at_period_end) {
    // The period ends with the subscription: nothing to bill.
    endSubscription(store, sub, sub.cancellation_details?.reason ?? 'cancellation_requested', { atPeriodEnd: true });
    throw invalidRequest(`Subscription ${sub.id} was set to cancel at period end: it is now canceled and no invoice was created.`, 'subscription');
  }
  const renewsAt = sub.items.data[0]!.current_period_end;
  const resumesAt = sub.pause_collection?.resumes_at;
  if (resumesAt != null && renewsAt >= resumesAt) {
    const paused = clone(sub);
    sub.pause_collection = null;
    store.emit('customer.subscription.updated', sub, previousAttributes(paused, sub));
  }

  const before = clone(sub);
  if (opts.card !== undefined) replaceCard(store, sub, opts.card);
  const previousStart = sub.items.data[0]!.current_period_start;
  for (const item of sub.items.data) {
    item.current_period_start = item.current_period_end;
    item.current_period_end = periodEnd(item.current_period_start, item.price);
  }
  const { invoice, outcome } = billSubscription(store, sub, { billingReason: 'subscription_cycle', periodStart: previousStart, periodEnd: renewsAt });
  settleAfterBilling(store, sub, invoice, outcome, before);
  return invoice;
}

/**
 * The next Smart Retry of the subscription's open invoice, now, with the card Stripe would pick (after `card`
 * replaced the saved one, if given). Paid: the subscription is active again. The last of MAX_PAYMENT_ATTEMPTS
 * failing: Stripe gives up as with the setting "cancel the subscription": the subscription is canceled
 * (cancellation_details.reason `payment_failed`) and the invoice left open, no longer collected (auto_advance false).
 */
export function retrySubscription(store: EmulatorStore, subscriptionId: string, opts: BillingControlOptions = {}): Stripe.Invoice {
  const sub = getOr404(store.subscriptions, subscriptionId, 'subscription');
  if (sub.status === 'canceled') throw invalidRequest(`Subscription ${sub.id} is canceled: its invoices are no longer retried.`, 'subscription');
  const invoice = invoiceToRetry(store, sub);
  if (!invoice) throw invalidRequest(`Subscription ${sub.id} has no open invoice awaiting a retry.`, 'subscription');
  const before = clone(sub);
  if (opts.card !== undefined) replaceCard(store, sub, opts.card);
  settleAfterBilling(store, sub, invoice, collectInvoice(store, invoice, sub), before);
  return invoice;
}

/** Saves `card` for the subscription's customer and makes it the subscription's default payment method. */
function replaceCard(store: EmulatorStore, sub: Stripe.Subscription, input: string | CardInput): void {
  const checked = checkCard(typeof input === 'string' ? { number: input } : input);
  if (!checked.ok) throw invalidRequest(checked.decline.message, 'card', checked.decline.code);
  const customer = getOr404(store.customers, sub.customer as string, 'customer');
  sub.default_payment_method = attachCard(store, checked.card, { email: customer.email, name: customer.name ?? null }, customer.id).id;
}

/**
 * The subscription after its latest invoice was billed or retried: active once paid, past_due while not,
 * canceled when the retries are exhausted. Emits customer.subscription.updated (or .deleted) for what changed.
 */
export function settleAfterBilling(store: EmulatorStore, sub: Stripe.Subscription, invoice: Stripe.Invoice, outcome: InvoiceOutcome, before: Stripe.Subscription): void {
  if (outcome === 'retries_exhausted') {
    // "Cancel the subscription" once all retries fail; Stripe then stops collecting its open invoices.
    invoice.auto_advance = false;
    endSubscription(store, sub, 'payment_failed', { atPeriodEnd: false });
    return;
  }
  if (invoice.id === sub.latest_invoice && outcome === 'paid') sub.status = 'active';
  if (invoice.id === sub.latest_invoice && outcome === 'failed') sub.status = 'past_due';
  const previous = previousAttributes(before, sub);
  if (Object.keys(previous).length > 0) store.emit('customer.subscription.updated', sub, previous);
}

/** DELETE /v1/subscriptions/:id: ends it now. */
export function cancelSubscription(store: EmulatorStore, subscriptionId: string, params: Params = {}): Stripe.Subscription {
  rejectUnknown(params, ['cancellation_details', 'expand', 'invoice_now', 'prorate']);
  const sub = getOr404(store.subscriptions, subscriptionId, 'subscription');
  if (sub.status === 'canceled') throw invalidRequest(`This subscription (${sub.id}) has already been canceled.`, undefined, 'resource_missing');
  const details = cancellationDetailsParam(params);
  if (details) Object.assign(sub.cancellation_details!, details);
  endSubscription(store, sub, 'cancellation_requested', { atPeriodEnd: false });
  return sub;
}

/** `cancellation_details` as the cancel and update calls take it: the donor's comment and feedback. */
export function cancellationDetailsParam(params: Params): Pick<Stripe.Subscription.CancellationDetails, 'comment' | 'feedback'> | undefined {
  const details = optObject(params, 'cancellation_details');
  if (!details) return undefined;
  rejectUnknown(details, ['comment', 'feedback'], 'cancellation_details');
  const feedback = optEnum(details, 'feedback', FEEDBACK, 'cancellation_details[feedback]');
  return {
    comment: optString(details, 'comment', 'cancellation_details[comment]') || null,
    feedback: feedback ?? null,
  };
}
const FEEDBACK = ['customer_service', 'low_quality', 'missing_features', 'other', 'switched_service', 'too_complex', 'too_expensive', 'unused'] as const;

/** Emits customer.subscription.deleted. Ended at period end, cancel_at_period_end stays true ("did cancel at period end"). */
function endSubscription(store: EmulatorStore, sub: Stripe.Subscription, reason: Stripe.Subscription.CancellationDetails.Reason, p: { atPeriodEnd: boolean }): void {
  const now = nowSeconds();
  sub.status = 'canceled';
  sub.canceled_at = p.atPeriodEnd ? (sub.canceled_at ?? now) : now;
  sub.ended_at = now;
  if (!p.atPeriodEnd) {
    sub.cancel_at = null;
    sub.cancel_at_period_end = false;
  }
  sub.cancellation_details = { comment: sub.cancellation_details?.comment ?? null, feedback: sub.cancellation_details?.feedback ?? null, feedback_option: null, reason };
  store.emit('customer.subscription.deleted', sub);
}
