/**
 * POST /v1/subscriptions/:id. Prorations are not emulated: every proration_behavior acts like `none`.
 * What bills at once, as on Stripe: a trial starting (`trial_end`: a $0 invoice, the cycle restarts at trial_end),
 * a trial ending now (`trial_end=now`), or a price with another interval (the cycle restarts now, the new price is
 * invoiced and charged). Any other change takes effect from the next renewal.
 */
import type Stripe from 'stripe';
import { cancellationDetailsParam, periodEnd, settleAfterBilling } from './billing';
import { buildPrice, buildSubscriptionItem, planFromPrice } from './builders';
import { recurringParam } from './catalog';
import { invalidRequest, noSuch } from './errors';
import { billSubscription } from './invoicing';
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
import { getOr404, type EmulatorStore } from './store';
import { clone, nowSeconds, previousAttributes } from './util';

const UPDATE_PARAMS = [
  'add_invoice_items', 'application_fee_percent', 'automatic_tax', 'billing_cycle_anchor', 'billing_schedules', 'billing_thresholds',
  'cancel_at', 'cancel_at_period_end', 'cancellation_details', 'collection_method', 'days_until_due', 'default_payment_method',
  'default_source', 'default_tax_rates', 'description', 'discounts', 'expand', 'invoice_settings', 'items', 'metadata', 'off_session',
  'on_behalf_of', 'pause_collection', 'payment_behavior', 'payment_settings', 'pending_invoice_item_interval', 'proration_behavior',
  'proration_date', 'transfer_data', 'trial_end', 'trial_from_plan', 'trial_settings',
];
/** Stripe's parameters that change billing in ways the emulator does not model: refused by name, not ignored. */
const NOT_EMULATED = ['add_invoice_items', 'billing_cycle_anchor', 'billing_thresholds', 'cancel_at', 'collection_method', 'days_until_due', 'discounts', 'trial_from_plan', 'trial_settings'];
const ITEM_PARAMS = ['billing_thresholds', 'clear_usage', 'deleted', 'discounts', 'id', 'metadata', 'plan', 'price', 'price_data', 'quantity', 'tax_rates'];
/** Stripe refuses trials ending more than two years ahead. */
const MAX_TRIAL_SECONDS = 730 * 86_400;

/**
 * Applies the update all or nothing (a refused parameter leaves the subscription as it was), then emits one
 * customer.subscription.updated after the invoice events of whatever billed at once.
 */
export function updateSubscription(store: EmulatorStore, subscriptionId: string, params: Params): Stripe.Subscription {
  rejectUnknown(params, UPDATE_PARAMS);
  const refused = NOT_EMULATED.find((name) => params[name] !== undefined);
  if (refused) throw invalidRequest(`The Kettle Stripe emulator does not support \`${refused}\` on subscription updates.`, refused);
  const sub = getOr404(store.subscriptions, subscriptionId, 'subscription');
  if (sub.status === 'canceled') {
    const onlyAllowed = Object.keys(params).every((k) => ['metadata', 'cancellation_details', 'expand'].includes(k));
    if (!onlyAllowed) throw invalidRequest('A canceled subscription can only update its cancellation_details and metadata.');
  }
  optEnum(params, 'proration_behavior', ['always_invoice', 'create_prorations', 'none'] as const);
  const paymentBehavior = optEnum(params, 'payment_behavior', ['allow_incomplete', 'default_incomplete', 'error_if_incomplete', 'pending_if_incomplete'] as const);
  if (paymentBehavior && paymentBehavior !== 'allow_incomplete') {
    throw invalidRequest('The Kettle Stripe emulator applies only payment_behavior=allow_incomplete (the default for updates).', 'payment_behavior');
  }

  const before = clone(sub);
  let billing: 'trial' | 'restart' | 'end_trial' | null;
  try {
    billing = applyChanges(store, sub, params);
  } catch (err) {
    Object.assign(sub, before);
    throw err;
  }
  if (billing === null) {
    const previous = previousAttributes(before, sub);
    if (Object.keys(previous).length > 0) store.emit('customer.subscription.updated', sub, previous);
    return sub;
  }
  const now = nowSeconds();
  if (billing === 'trial') {
    billSubscription(store, sub, { billingReason: 'subscription_update', periodStart: now, periodEnd: now, trial: true });
    store.emit('customer.subscription.updated', sub, previousAttributes(before, sub));
    return sub;
  }
  const { invoice, outcome } = billSubscription(store, sub, { billingReason: 'subscription_update', periodStart: now, periodEnd: now });
  settleAfterBilling(store, sub, invoice, outcome, before);
  return sub;
}

/** Changes `sub` as `params` say; answers what must be billed now. Throws (400) before billing anything. */
function applyChanges(store: EmulatorStore, sub: Stripe.Subscription, params: Params): 'trial' | 'restart' | 'end_trial' | null {
  const intervalBefore = billingInterval(sub);
  const items = optArray(params, 'items');
  if (items) applyItemUpdates(store, sub, items);
  const intervalChanged = billingInterval(sub) !== intervalBefore;

  const cancelAtPeriodEnd = optBool(params, 'cancel_at_period_end');
  if (cancelAtPeriodEnd !== undefined && cancelAtPeriodEnd !== sub.cancel_at_period_end) {
    sub.cancel_at_period_end = cancelAtPeriodEnd;
    sub.cancel_at = cancelAtPeriodEnd ? sub.items.data[0]!.current_period_end : null;
    sub.canceled_at = cancelAtPeriodEnd ? nowSeconds() : null;
    sub.cancellation_details = { comment: null, feedback: null, feedback_option: null, reason: cancelAtPeriodEnd ? 'cancellation_requested' : null };
  }
  const details = cancellationDetailsParam(params);
  if (details) sub.cancellation_details = { ...sub.cancellation_details!, ...details };

  if (params.pause_collection !== undefined) sub.pause_collection = pauseCollectionParam(params);

  const metadata = metadataParam(params, 'metadata');
  if (metadata !== undefined) sub.metadata = mergeMetadata(sub.metadata, metadata);

  const description = optString(params, 'description');
  if (description !== undefined) sub.description = description || null;

  const defaultPaymentMethod = optString(params, 'default_payment_method');
  if (defaultPaymentMethod) {
    const pm = store.paymentMethods.get(defaultPaymentMethod);
    if (!pm) throw noSuch('PaymentMethod', defaultPaymentMethod, 'default_payment_method');
    if (pm.customer !== sub.customer) {
      throw invalidRequest(`The customer does not have a payment method with the ID ${pm.id}. The payment method must be attached to the customer.`, 'default_payment_method');
    }
    sub.default_payment_method = defaultPaymentMethod;
  }

  const trialEnd = trialEndParam(params, sub);
  const now = nowSeconds();
  if (typeof trialEnd === 'number') {
    sub.status = 'trialing';
    sub.trial_start = now;
    sub.trial_end = trialEnd;
    restartPeriods(sub, now, trialEnd);
    return 'trial';
  }
  if (trialEnd === 'now') {
    sub.trial_end = now;
    restartPeriods(sub, now);
    return 'end_trial';
  }
  // A new interval during a trial waits for the trial's end; otherwise the cycle restarts and bills now.
  if (intervalChanged && sub.status !== 'trialing') {
    restartPeriods(sub, now);
    return 'restart';
  }
  return null;
}

/** The billing cycle starts again at `start`: every item's period, and the anchor (at `end` for a trial). */
function restartPeriods(sub: Stripe.Subscription, start: number, trialEnd?: number): void {
  for (const item of sub.items.data) {
    item.current_period_start = start;
    item.current_period_end = trialEnd ?? periodEnd(start, item.price);
  }
  sub.billing_cycle_anchor = trialEnd ?? start;
}

/** `trial_end`: unix seconds in the future (a trial starts), or `now` (a current trial ends). */
function trialEndParam(params: Params, sub: Stripe.Subscription): number | 'now' | undefined {
  if (params.trial_end === undefined) return undefined;
  if (params.trial_end === 'now') {
    if (sub.status !== 'trialing') throw invalidRequest(`Subscription ${sub.id} is not trialing: trial_end=now has no trial to end (the emulator refuses it).`, 'trial_end');
    return 'now';
  }
  const at = optInt(params, 'trial_end')!;
  const now = nowSeconds();
  if (at <= now) throw invalidRequest('Invalid timestamp: must be an integer Unix timestamp in the future.', 'trial_end');
  if (at > now + MAX_TRIAL_SECONDS) throw invalidRequest('Invalid timestamp: can be no more than 730 days in the future.', 'trial_end');
  return at;
}

/** All items of a subscription bill on one interval, as Stripe requires. */
function billingInterval(sub: Stripe.Subscription): string {
  const intervals = new Set(sub.items.data.map((item) => `${item.price.recurring!.interval_count} ${item.price.recurring!.interval}`));
  if (intervals.size > 1) {
    throw invalidRequest('Currency and interval fields must match across all plans on this subscription. Found mismatch in interval field.', 'items');
  }
  return [...intervals][0]!;
}

function pauseCollectionParam(params: Params): Stripe.Subscription.PauseCollection | null {
  if (params.pause_collection === '') return null;
  const pause = optObject(params, 'pause_collection')!;
  rejectUnknown(pause, ['behavior', 'resumes_at'], 'pause_collection');
  const behavior = optEnum(pause, 'behavior', ['keep_as_draft', 'mark_uncollectible', 'void'] as const, 'pause_collection[behavior]');
  if (!behavior) throw invalidRequest('Missing required param: pause_collection[behavior].', 'pause_collection[behavior]', 'parameter_missing');
  const resumesAt = optInt(pause, 'resumes_at', 'pause_collection[resumes_at]') ?? null;
  if (resumesAt !== null && resumesAt <= nowSeconds()) {
    throw invalidRequest('Invalid timestamp: must be an integer Unix timestamp in the future.', 'pause_collection[resumes_at]');
  }
  return { behavior, resumes_at: resumesAt };
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
  if (priceData) price = recurringPriceData(store, priceData, `${param}[price_data]`);
  if (price && price.currency !== sub.currency) {
    throw invalidRequest(`The price's currency (${price.currency}) must match the subscription's currency (${sub.currency}).`, `${param}[price]`);
  }
  return price;
}

/** An item's `price_data` (a product id is required: no `product_data` here): makes the inline Price it describes. */
function recurringPriceData(store: EmulatorStore, data: Params, param: string): Stripe.Price {
  rejectUnknown(data, ['currency', 'product', 'recurring', 'tax_behavior', 'unit_amount', 'unit_amount_decimal'], param);
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
