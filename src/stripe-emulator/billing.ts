/** Subscriptions and their invoices (basil shapes: money reaches invoices through InvoicePayments). */
import type Stripe from 'stripe';
import { luhnValid, normaliseCardNumber } from './cards';
import { invalidRequest, noSuch } from './errors';
import { formatAmount } from './money';
import { buildInvoice, buildInvoiceLine, buildInvoicePayment, buildPrice, buildSubscription, buildSubscriptionItem, planFromPrice, type BillingDetails } from './builders';
import {
  currencyParam,
  isRecord,
  mergeMetadata,
  metadataParam,
  optArray,
  optBool,
  optEnum,
  optInt,
  optObject,
  optString,
  rejectUnknown,
  reqString,
  type Params,
} from './params';
import { confirmPaymentIntent, createPaymentIntent, saveCard } from './payments';
import { getOr404, type EmulatorStore } from './store';
import { addInterval, clone, INTERVALS, newId, nowSeconds, type Interval } from './util';

function productName(store: EmulatorStore, price: Stripe.Price): string {
  const id = typeof price.product === 'string' ? price.product : price.product.id;
  return store.products.get(id)?.name ?? id;
}

function periodEnd(start: number, price: Stripe.Price): number {
  const recurring = price.recurring!;
  return addInterval(start, recurring.interval as Interval, recurring.interval_count);
}

/** Top-level fields of `before` that differ in `after`: Stripe's `data.previous_attributes`. */
export function previousAttributes(before: object, after: object): Record<string, unknown> {
  const prev: Record<string, unknown> = {};
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  for (const key of Object.keys(a)) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) prev[key] = b[key] ?? null;
  }
  return prev;
}

type InvoiceOutcome = 'paid' | 'failed' | 'void' | 'draft' | 'uncollectible';

/**
 * Creates the subscription's next invoice for its current item periods and collects it with the saved card.
 * Emits invoice.created, invoice.finalized, then charge.succeeded, payment_intent.succeeded, invoice.paid,
 * invoice.payment_succeeded — or payment_intent.payment_failed, invoice.payment_failed.
 */
function billSubscription(
  store: EmulatorStore,
  sub: Stripe.Subscription,
  p: { invoiceId: string; billingReason: 'subscription_create' | 'subscription_cycle'; periodStart: number; periodEnd: number; billing: BillingDetails },
): { invoice: Stripe.Invoice; outcome: InvoiceOutcome } {
  const customer = getOr404(store.customers, sub.customer as string, 'customer');
  const lines = sub.items.data.map((item) =>
    buildInvoiceLine({
      invoice: p.invoiceId,
      subscription: sub.id,
      item,
      productName: productName(store, item.price),
      formattedUnit: formatAmount(item.price.unit_amount ?? 0, item.price.currency),
    }),
  );
  const invoice = buildInvoice({ id: p.invoiceId, customer, subscription: sub, billingReason: p.billingReason, lines, periodStart: p.periodStart, periodEnd: p.periodEnd });
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

  const pm = getOr404(store.paymentMethods, sub.default_payment_method as string, 'payment_method');
  const result = confirmPaymentIntent(store, pi, pm, { billing: p.billing });
  invoice.attempted = true;
  invoice.attempt_count += 1;
  if (!result.ok) {
    invoice.next_payment_attempt = nowSeconds() + 3 * 86_400;
    store.emit('invoice.payment_failed', invoice);
    return { invoice, outcome: 'failed' };
  }
  invoice.status = 'paid';
  invoice.amount_paid = invoice.amount_due;
  invoice.amount_remaining = 0;
  invoice.next_payment_attempt = null;
  invoice.status_transitions.paid_at = nowSeconds();
  invoicePayment.status = 'paid';
  invoicePayment.amount_paid = invoice.amount_due;
  invoicePayment.status_transitions.paid_at = invoice.status_transitions.paid_at;
  store.emit('invoice.paid', invoice);
  store.emit('invoice.payment_succeeded', invoice);
  return { invoice, outcome: 'paid' };
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
  const invoiceId = newId('in_');
  sub.latest_invoice = invoiceId;
  // As on Stripe: created `incomplete`, then `updated` to active once the first invoice is paid.
  sub.status = 'incomplete';
  store.subscriptions.set(sub.id, sub);
  store.emit('customer.subscription.created', sub);
  const { invoice } = billSubscription(store, sub, { invoiceId, billingReason: 'subscription_create', periodStart: start, periodEnd: start, billing: p.billing });
  const before = clone(sub);
  sub.status = 'active';
  store.emit('customer.subscription.updated', sub, previousAttributes(before, sub));
  return { subscription: sub, invoice };
}

/** Bills the next period now. With `card`, that card replaces the saved one first (0341 makes the renewal fail). */
export function advanceSubscription(store: EmulatorStore, subscriptionId: string, opts: { card?: string } = {}): Stripe.Invoice {
  const sub = getOr404(store.subscriptions, subscriptionId, 'subscription');
  if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
    throw invalidRequest(`Subscription ${sub.id} is ${sub.status}: there is no next period to bill.`, 'subscription');
  }
  const customer = getOr404(store.customers, sub.customer as string, 'customer');
  const billing = { email: customer.email, name: customer.name ?? null };

  if (sub.cancel_at_period_end) {
    // The period ends with the subscription: nothing to bill.
    cancelSubscription(store, sub.id);
    throw invalidRequest(`Subscription ${sub.id} was set to cancel at period end: it is now canceled and no invoice was created.`, 'subscription');
  }

  const before = clone(sub);
  if (opts.card !== undefined) {
    const number = normaliseCardNumber(opts.card);
    if (!luhnValid(number)) throw invalidRequest('Your card number is incorrect.', 'card', 'incorrect_number');
    sub.default_payment_method = saveCard(store, number, billing, customer.id).id;
  }

  const previousStart = sub.items.data[0]!.current_period_start;
  const previousEnd = sub.items.data[0]!.current_period_end;
  for (const item of sub.items.data) {
    item.current_period_start = item.current_period_end;
    item.current_period_end = periodEnd(item.current_period_start, item.price);
  }
  const invoiceId = newId('in_');
  sub.latest_invoice = invoiceId;
  const { invoice, outcome } = billSubscription(store, sub, { invoiceId, billingReason: 'subscription_cycle', periodStart: previousStart, periodEnd: previousEnd, billing });
  if (outcome === 'paid') sub.status = 'active';
  if (outcome === 'failed') sub.status = 'past_due';
  store.emit('customer.subscription.updated', sub, previousAttributes(before, sub));
  return invoice;
}

export function cancelSubscription(store: EmulatorStore, subscriptionId: string, params: Params = {}): Stripe.Subscription {
  rejectUnknown(params, ['cancellation_details', 'expand', 'invoice_now', 'prorate']);
  const sub = getOr404(store.subscriptions, subscriptionId, 'subscription');
  if (sub.status === 'canceled') throw invalidRequest(`This subscription (${sub.id}) has already been canceled.`, undefined, 'resource_missing');
  const now = nowSeconds();
  const details = optObject(params, 'cancellation_details');
  sub.status = 'canceled';
  sub.canceled_at = now;
  sub.ended_at = now;
  sub.cancel_at = null;
  sub.cancel_at_period_end = false;
  sub.cancellation_details = {
    comment: (details && optString(details, 'comment', 'cancellation_details[comment]')) ?? null,
    feedback: ((details && optString(details, 'feedback', 'cancellation_details[feedback]')) ?? null) as Stripe.Subscription.CancellationDetails.Feedback | null,
    feedback_option: null,
    reason: 'cancellation_requested',
  };
  store.emit('customer.subscription.deleted', sub);
  return sub;
}

const SUBSCRIPTION_UPDATE_PARAMS = [
  'add_invoice_items', 'application_fee_percent', 'automatic_tax', 'billing_cycle_anchor', 'billing_schedules', 'billing_thresholds',
  'cancel_at', 'cancel_at_period_end', 'cancellation_details', 'collection_method', 'days_until_due', 'default_payment_method',
  'default_source', 'default_tax_rates', 'description', 'discounts', 'expand', 'invoice_settings', 'items', 'metadata', 'off_session',
  'on_behalf_of', 'pause_collection', 'payment_behavior', 'payment_settings', 'pending_invoice_item_interval', 'proration_behavior',
  'proration_date', 'transfer_data', 'trial_end', 'trial_from_plan', 'trial_settings',
];
const ITEM_PARAMS = ['billing_thresholds', 'clear_usage', 'deleted', 'discounts', 'id', 'metadata', 'plan', 'price', 'price_data', 'quantity', 'tax_rates'];

/**
 * POST /v1/subscriptions/:id. Amount changes take effect from the next invoice: prorations are not emulated,
 * so every proration_behavior acts like `none`.
 */
export function updateSubscription(store: EmulatorStore, subscriptionId: string, params: Params): Stripe.Subscription {
  rejectUnknown(params, SUBSCRIPTION_UPDATE_PARAMS);
  const sub = getOr404(store.subscriptions, subscriptionId, 'subscription');
  if (sub.status === 'canceled') {
    const onlyAllowed = Object.keys(params).every((k) => ['metadata', 'cancellation_details', 'expand'].includes(k));
    if (!onlyAllowed) throw invalidRequest('A canceled subscription can only update its cancellation_details and metadata.');
  }
  optEnum(params, 'proration_behavior', ['always_invoice', 'create_prorations', 'none'] as const);
  const before = clone(sub);

  const items = optArray(params, 'items');
  if (items) applyItemUpdates(store, sub, items);

  const cancelAtPeriodEnd = optBool(params, 'cancel_at_period_end');
  if (cancelAtPeriodEnd !== undefined && cancelAtPeriodEnd !== sub.cancel_at_period_end) {
    sub.cancel_at_period_end = cancelAtPeriodEnd;
    sub.cancel_at = cancelAtPeriodEnd ? sub.items.data[0]!.current_period_end : null;
    sub.canceled_at = cancelAtPeriodEnd ? nowSeconds() : null;
    sub.cancellation_details = { comment: null, feedback: null, feedback_option: null, reason: cancelAtPeriodEnd ? 'cancellation_requested' : null };
  }

  if (params.pause_collection !== undefined) sub.pause_collection = pauseCollectionParam(params);

  const metadata = metadataParam(params, 'metadata');
  if (metadata !== undefined) sub.metadata = mergeMetadata(sub.metadata, metadata);

  const description = optString(params, 'description');
  if (description !== undefined) sub.description = description || null;

  const defaultPaymentMethod = optString(params, 'default_payment_method');
  if (defaultPaymentMethod) {
    if (!store.paymentMethods.has(defaultPaymentMethod)) throw noSuch('PaymentMethod', defaultPaymentMethod, 'default_payment_method');
    sub.default_payment_method = defaultPaymentMethod;
  }

  const previous = previousAttributes(before, sub);
  if (Object.keys(previous).length > 0) store.emit('customer.subscription.updated', sub, previous);
  return sub;
}

function pauseCollectionParam(params: Params): Stripe.Subscription.PauseCollection | null {
  if (params.pause_collection === '') return null;
  const pause = optObject(params, 'pause_collection')!;
  rejectUnknown(pause, ['behavior', 'resumes_at'], 'pause_collection');
  const behavior = optEnum(pause, 'behavior', ['keep_as_draft', 'mark_uncollectible', 'void'] as const, 'pause_collection[behavior]');
  if (!behavior) throw invalidRequest('Missing required param: pause_collection[behavior].', 'pause_collection[behavior]', 'parameter_missing');
  return { behavior, resumes_at: optInt(pause, 'resumes_at', 'pause_collection[resumes_at]') ?? null };
}

function applyItemUpdates(store: EmulatorStore, sub: Stripe.Subscription, items: unknown[]): void {
  items.forEach((raw, i) => {
    const param = `items[${i}]`;
    if (!isRecord(raw)) throw invalidRequest('Invalid object', param);
    rejectUnknown(raw, ITEM_PARAMS, param);
    const id = optString(raw, 'id', `${param}[id]`);
    const existing = id ? sub.items.data.find((it) => it.id === id) : undefined;
    if (id && !existing) throw noSuch('subscription item', id, `${param}[id]`);

    if (optBool(raw, 'deleted', `${param}[deleted]`)) {
      if (!existing) throw invalidRequest('Deleting an item requires its id.', `${param}[id]`);
      if (sub.items.data.length === 1) throw invalidRequest('A subscription must have at least one active plan.', `${param}[deleted]`);
      sub.items.data = sub.items.data.filter((it) => it !== existing);
      return;
    }

    const price = itemPrice(store, sub, raw, param);
    const quantity = optInt(raw, 'quantity', `${param}[quantity]`);
    if (quantity !== undefined && quantity < 0) throw invalidRequest('Invalid non-negative integer', `${param}[quantity]`);
    const metadata = metadataParam(raw, 'metadata', `${param}[metadata]`);

    if (existing) {
      if (price) {
        existing.price = price;
        existing.plan = planFromPrice(price);
      }
      if (quantity !== undefined) existing.quantity = quantity;
      if (metadata !== undefined) existing.metadata = mergeMetadata(existing.metadata, metadata);
      return;
    }
    if (!price) throw invalidRequest('You must specify either price or price_data for a new item.', param);
    const current = sub.items.data[0]!;
    const item = buildSubscriptionItem({
      subscription: sub.id,
      price,
      quantity: quantity ?? 1,
      periodStart: current.current_period_start,
      periodEnd: current.current_period_end,
    });
    if (metadata !== undefined) item.metadata = mergeMetadata({}, metadata);
    sub.items.data.push(item);
  });
  (sub.items as { total_count?: number }).total_count = sub.items.data.length;
}

function itemPrice(store: EmulatorStore, sub: Stripe.Subscription, raw: Params, param: string): Stripe.Price | undefined {
  const priceId = optString(raw, 'price', `${param}[price]`);
  const priceData = optObject(raw, 'price_data', `${param}[price_data]`);
  if (priceId && priceData) throw invalidRequest('You may only specify one of these parameters: price, price_data.', `${param}[price]`);
  let price: Stripe.Price | undefined;
  if (priceId) {
    price = store.prices.get(priceId);
    if (!price) throw noSuch('price', priceId, `${param}[price]`);
    if (!price.recurring) throw invalidRequest(`The price specified (${priceId}) is not recurring.`, `${param}[price]`);
  }
  if (priceData) price = recurringPriceData(store, priceData, `${param}[price_data]`, { requireProduct: true });
  if (price && price.currency !== sub.currency) {
    throw invalidRequest(`The price's currency (${price.currency}) must match the subscription's currency (${sub.currency}).`, `${param}[price]`);
  }
  return price;
}

/** `price_data` with `recurring`: makes the (inactive, inline) Price it describes. */
export function recurringPriceData(store: EmulatorStore, data: Params, param: string, opts: { requireProduct: boolean }): Stripe.Price {
  rejectUnknown(data, opts.requireProduct ? ['currency', 'product', 'recurring', 'tax_behavior', 'unit_amount', 'unit_amount_decimal'] : ['currency', 'product', 'product_data', 'recurring', 'tax_behavior', 'unit_amount', 'unit_amount_decimal'], param);
  const currency = currencyParam(data, 'currency', `${param}[currency]`);
  const product = reqString(data, 'product', `${param}[product]`);
  if (!store.products.has(product)) throw noSuch('product', product, `${param}[product]`);
  const unitAmount = optInt(data, 'unit_amount', `${param}[unit_amount]`);
  if (unitAmount === undefined) throw invalidRequest(`Missing required param: ${param}[unit_amount].`, `${param}[unit_amount]`, 'parameter_missing');
  if (unitAmount <= 0) throw invalidRequest('Invalid positive integer', `${param}[unit_amount]`);
  const recurringRaw = optObject(data, 'recurring', `${param}[recurring]`);
  if (!recurringRaw) throw invalidRequest(`Missing required param: ${param}[recurring].`, `${param}[recurring]`, 'parameter_missing');
  const price = buildPrice({ currency, unitAmount, product, recurring: recurringParam(recurringRaw, `${param}[recurring]`), active: false });
  store.prices.set(price.id, price);
  return price;
}

export function recurringParam(raw: Params, param: string): { interval: Interval; interval_count: number } {
  rejectUnknown(raw, ['interval', 'interval_count', 'meter', 'usage_type', 'trial_period_days'], param);
  const interval = optEnum(raw, 'interval', INTERVALS, `${param}[interval]`);
  if (!interval) throw invalidRequest(`Missing required param: ${param}[interval].`, `${param}[interval]`, 'parameter_missing');
  const count = optInt(raw, 'interval_count', `${param}[interval_count]`) ?? 1;
  const maxCount = { day: 1095, week: 156, month: 36, year: 3 }[interval];
  if (count < 1 || count > maxCount) throw invalidRequest('The maximum billing interval is three years.', `${param}[interval_count]`);
  return { interval, interval_count: count };
}

