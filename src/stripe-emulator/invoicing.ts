/**
 * Subscription invoices (basil shapes: money reaches invoices through InvoicePayments): making one for the
 * subscription's current item periods, and collecting it, first attempt and Smart Retries alike.
 */
import type Stripe from 'stripe';
import { buildInvoice, buildInvoiceLine, buildInvoicePayment, type SubscriptionBillingReason } from './builders';
import { invalidRequest } from './errors';
import { formatAmount } from './money';
import { confirmPaymentIntent, createPaymentIntent } from './payments';
import { getOr404, type EmulatorStore } from './store';
import { newId, nowSeconds } from './util';

/** Smart Retries as the emulated account has them: four attempts on one invoice, then Stripe gives up. */
export const MAX_PAYMENT_ATTEMPTS = 4;
/** Days from a failed attempt to the next one (Smart Retries choose their own times; these stand in for them). */
const RETRY_AFTER_DAYS = [3, 5, 7];

/** `retries_exhausted`: the attempt failed and it was the last one (`next_payment_attempt` is null). */
export type PaymentOutcome = 'paid' | 'failed' | 'retries_exhausted';
export type InvoiceOutcome = PaymentOutcome | 'void' | 'draft' | 'uncollectible';

function productName(store: EmulatorStore, price: Stripe.Price): string {
  const id = typeof price.product === 'string' ? price.product : price.product.id;
  return store.products.get(id)?.name ?? id;
}

/**
 * Creates the subscription's next invoice for its current item periods (a trial's lines cost nothing) and
 * collects it. Emits invoice.created, invoice.finalized, then what collectInvoice emits; a paused subscription's
 * invoice stays a draft, or is voided or marked uncollectible, as its pause_collection says. An invoice of zero
 * (a trial starting) is paid at once, with no PaymentIntent: invoice.paid, invoice.payment_succeeded.
 */
export function billSubscription(
  store: EmulatorStore,
  sub: Stripe.Subscription,
  p: { billingReason: SubscriptionBillingReason; periodStart: number; periodEnd: number; trial?: boolean },
): { invoice: Stripe.Invoice; outcome: InvoiceOutcome } {
  const customer = getOr404(store.customers, sub.customer as string, 'customer');
  const invoiceId = newId('in_');
  sub.latest_invoice = invoiceId;
  const lines = sub.items.data.map((item) =>
    buildInvoiceLine({
      invoice: invoiceId,
      subscription: sub.id,
      item,
      productName: productName(store, item.price),
      formattedUnit: formatAmount(item.price.unit_amount ?? 0, item.price.currency),
      trial: p.trial ?? false,
    }),
  );
  const invoice = buildInvoice({ id: invoiceId, customer, subscription: sub, billingReason: p.billingReason, lines, periodStart: p.periodStart, periodEnd: p.periodEnd });
  store.invoices.set(invoice.id, invoice);
  store.emit('invoice.created', invoice);

  const pause = sub.pause_collection?.behavior;
  if (pause === 'keep_as_draft') return { invoice, outcome: 'draft' };

  const now = nowSeconds();
  invoice.status = 'open';
  invoice.number = `${customer.invoice_prefix}-${String(customer.next_invoice_sequence ?? 1).padStart(4, '0')}`;
  customer.next_invoice_sequence = (customer.next_invoice_sequence ?? 1) + 1;
  invoice.status_transitions.finalized_at = now;
  invoice.effective_at = now;

  if (pause === 'void' || pause === 'mark_uncollectible') {
    store.emit('invoice.finalized', invoice);
    if (pause === 'void') {
      invoice.status = 'void';
      invoice.amount_remaining = 0;
      invoice.status_transitions.voided_at = now;
      store.emit('invoice.voided', invoice);
      return { invoice, outcome: 'void' };
    }
    invoice.status = 'uncollectible';
    invoice.status_transitions.marked_uncollectible_at = now;
    store.emit('invoice.marked_uncollectible', invoice);
    return { invoice, outcome: 'uncollectible' };
  }

  if (invoice.amount_due === 0) {
    invoice.attempted = true;
    store.emit('invoice.finalized', invoice);
    markPaid(store, invoice, null);
    return { invoice, outcome: 'paid' };
  }

  const pi = createPaymentIntent(store, {
    amount: invoice.amount_due,
    currency: invoice.currency,
    customer: customer.id,
    metadata: {},
    description: p.billingReason === 'subscription_create' ? 'Subscription creation' : 'Subscription update',
  });
  const invoicePayment = buildInvoicePayment(invoice, pi.id);
  store.invoicePayments.set(invoicePayment.id, invoicePayment);
  store.emit('invoice.finalized', invoice);
  return { invoice, outcome: collectInvoice(store, invoice, sub) };
}

/**
 * One payment attempt on an open invoice, through its PaymentIntent, with the card Stripe would pick: the
 * subscription's default_payment_method, else the customer's invoice_settings.default_payment_method.
 * Paid: charge.succeeded, payment_intent.succeeded, invoice.paid, invoice.payment_succeeded. Declined:
 * charge.failed, payment_intent.payment_failed (with last_payment_error and its decline_code),
 * invoice.payment_failed, whose next_payment_attempt is null on the last attempt.
 */
export function collectInvoice(store: EmulatorStore, invoice: Stripe.Invoice, sub: Stripe.Subscription): PaymentOutcome {
  const customer = getOr404(store.customers, invoice.customer as string, 'customer');
  const pmId = (sub.default_payment_method ?? customer.invoice_settings.default_payment_method) as string | null;
  if (!pmId) throw invalidRequest(`Neither subscription ${sub.id} nor its customer has a default payment method to charge.`, 'subscription');
  const pm = getOr404(store.paymentMethods, pmId, 'payment_method');
  const payment = [...store.invoicePayments.values()].find((p) => p.invoice === invoice.id)!;
  const pi = getOr404(store.paymentIntents, payment.payment.payment_intent as string, 'payment_intent');

  const result = confirmPaymentIntent(store, pi, pm, { billing: { email: pm.billing_details.email, name: pm.billing_details.name } });
  invoice.attempted = true;
  invoice.attempt_count += 1;
  if (!result.ok) {
    const delayDays = RETRY_AFTER_DAYS[invoice.attempt_count - 1];
    const lastAttempt = invoice.attempt_count >= MAX_PAYMENT_ATTEMPTS || delayDays === undefined;
    invoice.next_payment_attempt = lastAttempt ? null : nowSeconds() + delayDays * 86_400;
    store.emit('invoice.payment_failed', invoice);
    return lastAttempt ? 'retries_exhausted' : 'failed';
  }
  markPaid(store, invoice, payment);
  return 'paid';
}

function markPaid(store: EmulatorStore, invoice: Stripe.Invoice, payment: Stripe.InvoicePayment | null): void {
  invoice.status = 'paid';
  invoice.amount_paid = invoice.amount_due;
  invoice.amount_remaining = 0;
  invoice.next_payment_attempt = null;
  invoice.status_transitions.paid_at = nowSeconds();
  if (payment) {
    payment.status = 'paid';
    payment.amount_paid = invoice.amount_due;
    payment.status_transitions.paid_at = invoice.status_transitions.paid_at;
  }
  store.emit('invoice.paid', invoice);
  store.emit('invoice.payment_succeeded', invoice);
}

/** The invoice Smart Retries would try next: the subscription's newest open invoice still collected automatically. */
export function invoiceToRetry(store: EmulatorStore, sub: Stripe.Subscription): Stripe.Invoice | undefined {
  return [...store.invoices.values()]
    .reverse()
    .find((i) => i.parent?.subscription_details?.subscription === sub.id && i.status === 'open' && i.auto_advance && i.next_payment_attempt !== null);
}
