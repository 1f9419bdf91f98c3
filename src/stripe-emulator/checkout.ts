/** Checkout Sessions: creation with Stripe's validation, expiry, and what the hosted page's Pay button does. */
import type Stripe from 'stripe';
import { startSubscription } from './billing';
import { checkCard, declineFor, type CardInput } from './cards';
import { productFor, recurringParam } from './catalog';
import type { EmulatorContext } from './context';
import { invalidRequest, missingParam, noSuch } from './errors';
import { formatAmount, minimumChargeAmount } from './money';
import { buildCheckoutLineItem, buildCheckoutSession, buildCustomer, buildPrice, type BillingDetails } from './builders';
import {
  createMetadata,
  currencyParam,
  isRecord,
  optArray,
  optEnum,
  optInt,
  optObject,
  optString,
  rejectUnknown,
  validUrl,
  type Params,
} from './params';
import { attachCard, confirmPaymentIntent, createPaymentIntent, saveCard } from './payments';
import { getOr404, type EmulatorStore } from './store';
import { nowSeconds } from './util';

export type PayResult = { ok: true; redirectUrl: string } | { ok: false; declineCode: string; message: string };

/** The placeholder Stripe replaces in success_url. Only the literal form counts, as on Stripe. */
export const CHECKOUT_SESSION_ID_PLACEHOLDER = '{CHECKOUT_SESSION_ID}';

const CREATE_PARAMS = [
  'adaptive_pricing', 'after_expiration', 'allow_promotion_codes', 'allowed_payment_method_types', 'automatic_tax',
  'billing_address_collection', 'branding_settings', 'cancel_url', 'client_reference_id', 'consent_collection', 'currency',
  'custom_fields', 'custom_text', 'customer', 'customer_account', 'customer_creation', 'customer_email', 'customer_update',
  'discounts', 'excluded_payment_method_types', 'expand', 'expires_at', 'integration_identifier', 'invoice_creation',
  'line_items', 'locale', 'managed_payments', 'metadata', 'mode', 'name_collection', 'optional_items', 'origin_context',
  'payment_intent_data', 'payment_method_collection', 'payment_method_configuration', 'payment_method_data',
  'payment_method_options', 'permissions', 'phone_number_collection', 'redirect_on_completion', 'return_url',
  'saved_payment_method_options', 'setup_intent_data', 'shipping_address_collection', 'shipping_options', 'submit_type',
  'subscription_data', 'success_url', 'tax_id_collection', 'ui_mode', 'wallet_options',
];
const PAYMENT_INTENT_DATA_PARAMS = ['application_fee_amount', 'capture_method', 'description', 'metadata', 'on_behalf_of', 'receipt_email', 'setup_future_usage', 'shipping', 'statement_descriptor', 'statement_descriptor_suffix', 'transfer_data', 'transfer_group'];
const SUBSCRIPTION_DATA_PARAMS = ['application_fee_percent', 'billing_cycle_anchor', 'billing_mode', 'default_tax_rates', 'description', 'invoice_settings', 'metadata', 'on_behalf_of', 'pending_invoice_item_interval', 'proration_behavior', 'transfer_data', 'trial_end', 'trial_period_days', 'trial_settings'];
const LINE_ITEM_PARAMS = ['adjustable_quantity', 'dynamic_tax_rates', 'metadata', 'price', 'price_data', 'quantity', 'tax_rates'];
const PRICE_DATA_PARAMS = ['currency', 'product', 'product_data', 'recurring', 'tax_behavior', 'unit_amount', 'unit_amount_decimal'];

export function createCheckoutSession(ctx: EmulatorContext, params: Params): Stripe.Checkout.Session {
  const { store } = ctx;
  if (params.payment_method_types !== undefined) {
    throw invalidRequest(
      'payment_method_types is not accepted by API version 2026-10-28.endive: Checkout chooses payment methods dynamically. Remove it, or use excluded_payment_method_types.',
      'payment_method_types',
    );
  }
  rejectUnknown(params, CREATE_PARAMS);

  if (params.mode === undefined || params.mode === '') throw missingParam('mode');
  if (params.mode === 'setup') throw invalidRequest('The Kettle Stripe emulator supports only mode=payment and mode=subscription.', 'mode');
  const mode = optEnum(params, 'mode', ['payment', 'setup', 'subscription'] as const)! as 'payment' | 'subscription';
  // `hosted_page` is endive's name and default; `hosted` is the name before it, still accepted here.
  const uiMode = optString(params, 'ui_mode') ?? 'hosted_page';
  if (uiMode !== 'hosted_page' && uiMode !== 'hosted') {
    throw invalidRequest('The Kettle Stripe emulator supports only the hosted page: ui_mode=hosted_page (the default).', 'ui_mode');
  }

  const successUrlRaw = optString(params, 'success_url');
  if (!successUrlRaw) throw missingParam('success_url');
  const successUrl = validUrl(successUrlRaw, 'success_url');
  const cancelUrlRaw = optString(params, 'cancel_url');
  const cancelUrl = cancelUrlRaw ? validUrl(cancelUrlRaw, 'cancel_url') : null;

  const customerId = optString(params, 'customer') || null;
  const customerEmail = optString(params, 'customer_email') || null;
  if (customerId && customerEmail) throw invalidRequest('You may only specify one of these parameters: customer, customer_email.', 'customer_email');
  if (customerId && !store.customers.has(customerId)) throw noSuch('customer', customerId, 'customer');
  if (customerEmail && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(customerEmail)) throw invalidRequest('Invalid email address: ' + customerEmail, 'customer_email', 'email_invalid');

  const customerCreation = optEnum(params, 'customer_creation', ['always', 'if_required'] as const) ?? null;
  if (customerCreation && mode !== 'payment') throw invalidRequest('`customer_creation` can only be used in `payment` mode.', 'customer_creation');
  if (customerCreation && customerId) throw invalidRequest('You may only specify one of these parameters: customer, customer_creation.', 'customer_creation');

  const paymentIntentData = optObject(params, 'payment_intent_data');
  if (paymentIntentData && mode !== 'payment') throw invalidRequest('You can not pass `payment_intent_data` in `subscription` mode.', 'payment_intent_data');
  if (paymentIntentData) rejectUnknown(paymentIntentData, PAYMENT_INTENT_DATA_PARAMS, 'payment_intent_data');

  const subscriptionData = optObject(params, 'subscription_data');
  if (subscriptionData && mode !== 'subscription') throw invalidRequest('You can not pass `subscription_data` in `payment` mode.', 'subscription_data');
  if (subscriptionData) {
    rejectUnknown(subscriptionData, SUBSCRIPTION_DATA_PARAMS, 'subscription_data');
    for (const trial of ['trial_end', 'trial_period_days', 'trial_settings']) {
      if (subscriptionData[trial] !== undefined) throw invalidRequest('Trials are not supported by the Kettle Stripe emulator.', `subscription_data[${trial}]`);
    }
  }

  const lineItems = lineItemsParam(store, params, mode);
  const currency = lineItems[0]!.currency;
  const amountTotal = lineItems.reduce((sum, li) => sum + li.amount_total, 0);
  const minimum = minimumChargeAmount(currency);
  if (minimum !== undefined && amountTotal < minimum) {
    throw invalidRequest(
      `The Checkout Session's total amount due must add up to at least ${formatAmount(minimum, currency)} ${currency}`,
      'line_items',
      'amount_too_small',
    );
  }

  const clientReferenceId = optString(params, 'client_reference_id') || null;
  if (clientReferenceId && clientReferenceId.length > 200) throw invalidRequest('client_reference_id must be at most 200 characters.', 'client_reference_id');

  const now = nowSeconds();
  const expiresAt = optInt(params, 'expires_at') ?? now + 24 * 3600;
  if (expiresAt < now + 30 * 60 || expiresAt > now + 24 * 3600) {
    throw invalidRequest('The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.', 'expires_at');
  }

  const session = buildCheckoutSession({
    mode,
    url: (id) => `${ctx.publicUrl}/checkout/${id}`,
    amountTotal,
    currency,
    customer: customerId,
    customerEmail,
    customerCreation,
    clientReferenceId,
    metadata: createMetadata(params),
    submitType: optEnum(params, 'submit_type', ['auto', 'book', 'donate', 'pay', 'subscribe'] as const) ?? null,
    successUrl,
    cancelUrl,
    expiresAt,
    locale: optString(params, 'locale') ?? null,
    uiMode,
  });
  store.checkoutSessions.set(session.id, session);
  store.sessionExtras.set(session.id, {
    lineItems,
    paymentIntentMetadata: paymentIntentData ? createMetadata(paymentIntentData, 'metadata', 'payment_intent_data[metadata]') : {},
    paymentIntentDescription: (paymentIntentData && optString(paymentIntentData, 'description', 'payment_intent_data[description]')) || null,
    subscriptionMetadata: subscriptionData ? createMetadata(subscriptionData, 'metadata', 'subscription_data[metadata]') : {},
    subscriptionDescription: (subscriptionData && optString(subscriptionData, 'description', 'subscription_data[description]')) || null,
  });
  return session;
}

function lineItemsParam(store: EmulatorStore, params: Params, mode: 'payment' | 'subscription'): Stripe.LineItem[] {
  const raw = optArray(params, 'line_items');
  if (!raw || raw.length === 0) throw invalidRequest('You must provide at least one line item.', 'line_items', 'parameter_missing');
  const items = raw.map((item, i) => {
    const param = `line_items[${i}]`;
    if (!isRecord(item)) throw invalidRequest('Invalid object', param);
    rejectUnknown(item, LINE_ITEM_PARAMS, param);
    const quantity = optInt(item, 'quantity', `${param}[quantity]`);
    if (quantity === undefined) throw invalidRequest(`Quantity is required. Add \`quantity\` to \`${param}\``, `${param}[quantity]`, 'parameter_missing');
    if (quantity < 1) throw invalidRequest('Quantity must be at least 1.', `${param}[quantity]`);
    const price = linePrice(store, item, param);
    if (mode === 'payment' && price.recurring) {
      throw invalidRequest('You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.', `${param}[price_data][recurring]`);
    }
    if (mode === 'subscription' && !price.recurring) {
      // Stripe would add one-time prices to the first invoice; the emulator keeps to recurring ones.
      throw invalidRequest('In `subscription` mode every line item must have a recurring price (the emulator does not bill one-time items on subscriptions).', `${param}[price_data][recurring]`);
    }
    const product = store.products.get(price.product as string)!;
    return buildCheckoutLineItem(price, quantity, product.name);
  });
  const currencies = new Set(items.map((li) => li.currency));
  if (currencies.size > 1) throw invalidRequest('All line items must have the same currency.', 'line_items');
  return items;
}

function linePrice(store: EmulatorStore, item: Params, param: string): Stripe.Price {
  const priceId = optString(item, 'price', `${param}[price]`);
  const priceData = optObject(item, 'price_data', `${param}[price_data]`);
  if (priceId && priceData) throw invalidRequest('You may only specify one of these parameters: price, price_data.', `${param}[price]`);
  if (priceId) {
    const price = store.prices.get(priceId);
    if (!price) throw noSuch('price', priceId, `${param}[price]`);
    if (!price.active) throw invalidRequest(`The price specified (${priceId}) is inactive. This field only accepts active prices.`, `${param}[price]`);
    return price;
  }
  if (!priceData) throw invalidRequest(`You must specify either \`price\` or \`price_data\` in \`${param}\`.`, `${param}[price]`, 'parameter_missing');
  const dataParam = `${param}[price_data]`;
  rejectUnknown(priceData, PRICE_DATA_PARAMS, dataParam);
  const currency = currencyParam(priceData, 'currency', `${dataParam}[currency]`);
  if (priceData.unit_amount_decimal !== undefined) throw invalidRequest('unit_amount_decimal is not supported by the Kettle Stripe emulator: use unit_amount.', `${dataParam}[unit_amount_decimal]`);
  const unitAmount = optInt(priceData, 'unit_amount', `${dataParam}[unit_amount]`);
  if (unitAmount === undefined) throw invalidRequest(`Missing required param: ${dataParam}[unit_amount].`, `${dataParam}[unit_amount]`, 'parameter_missing');
  if (unitAmount <= 0) throw invalidRequest('Invalid positive integer', `${dataParam}[unit_amount]`);
  const product = productFor(store, priceData, dataParam, { emitProduct: false });
  const recurringRaw = optObject(priceData, 'recurring', `${dataParam}[recurring]`);
  const price = buildPrice({ currency, unitAmount, product: product.id, recurring: recurringRaw ? recurringParam(recurringRaw, `${dataParam}[recurring]`) : null, active: false });
  store.prices.set(price.id, price);
  return price;
}

/** Sessions past `expires_at` expire when next looked at (there is no background timer). */
export function expireIfDue(store: EmulatorStore, session: Stripe.Checkout.Session): void {
  if (session.status === 'open' && nowSeconds() >= session.expires_at) markExpired(store, session);
}

export function expireCheckoutSession(store: EmulatorStore, sessionId: string): Stripe.Checkout.Session {
  const session = getOr404(store.checkoutSessions, sessionId, 'checkout.session');
  expireIfDue(store, session);
  if (session.status !== 'open') {
    throw invalidRequest(`Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${session.status}".`, 'session');
  }
  markExpired(store, session);
  return session;
}

function markExpired(store: EmulatorStore, session: Stripe.Checkout.Session): void {
  session.status = 'expired';
  session.url = null;
  store.emit('checkout.session.expired', session);
}

export function successRedirect(session: Stripe.Checkout.Session): string {
  return session.success_url!.split(CHECKOUT_SESSION_ID_PLACEHOLDER).join(session.id);
}

/** A test card and what the donor typed beside it on the hosted page. */
export type CheckoutCard = CardInput & { email?: string; name?: string };

/**
 * Pays an open session with a test card, as the hosted page's button does. All state changes and events happen
 * before this resolves; on success it also waits (up to ~3 s) for the webhook queue, so the success page the
 * browser lands on usually already knows about the payment.
 */
export async function pay(ctx: EmulatorContext, sessionId: string, card: CheckoutCard): Promise<PayResult> {
  const result = payNow(ctx.store, sessionId, card);
  if (result.ok) await waitAtMost(ctx.webhooks.idle(), 3000);
  return result;
}

function payNow(store: EmulatorStore, sessionId: string, input: CheckoutCard): PayResult {
  const session = getOr404(store.checkoutSessions, sessionId, 'checkout.session');
  expireIfDue(store, session);
  if (session.status !== 'open') {
    throw invalidRequest(`This Checkout Session is ${session.status === 'expired' ? 'expired' : 'already complete'} and can no longer be paid.`, 'session', 'checkout_session_not_open');
  }
  const checked = checkCard(input);
  if (!checked.ok) return { ok: false, declineCode: checked.decline.declineCode, message: checked.decline.message };
  const { card } = checked;

  const existingCustomer = typeof session.customer === 'string' ? store.customers.get(session.customer) ?? null : null;
  // customer_email (or the given customer's email) is locked on Stripe's page: it wins over what was typed.
  const email = existingCustomer?.email ?? session.customer_email ?? (input.email?.trim() || null);
  const name = input.name?.trim() || existingCustomer?.name || null;
  const billing: BillingDetails = { email, name };
  const extras = store.sessionExtras.get(session.id)!;

  if (session.mode === 'subscription') {
    const decline = declineFor(card.number);
    // Checkout only creates the subscription once the first payment succeeds: a decline leaves no trace.
    if (decline) return { ok: false, declineCode: decline.declineCode, message: decline.message };
    const customer = existingCustomer ?? createCheckoutCustomer(store, billing);
    const paymentMethod = attachCard(store, card, billing, customer.id);
    const { subscription, invoice } = startSubscription(store, {
      customer,
      lineItems: extras.lineItems,
      metadata: { ...extras.subscriptionMetadata },
      description: extras.subscriptionDescription,
      paymentMethod,
      billing,
    });
    completeSession(store, session, { customer: customer.id, billing, subscription: subscription.id, invoice: invoice.id });
    return { ok: true, redirectUrl: successRedirect(session) };
  }

  // One payment: the PaymentIntent appears on the first attempt and is reused by retries after a decline.
  const pi =
    (typeof session.payment_intent === 'string' && store.paymentIntents.get(session.payment_intent)) ||
    createPaymentIntent(store, {
      amount: session.amount_total!,
      currency: session.currency!,
      customer: existingCustomer?.id ?? null,
      metadata: { ...extras.paymentIntentMetadata },
      description: extras.paymentIntentDescription,
    });
  session.payment_intent = pi.id;
  const paymentMethod = saveCard(store, card, billing);
  const decline = declineFor(card.number);
  if (decline) {
    confirmPaymentIntent(store, pi, paymentMethod, { billing });
    return { ok: false, declineCode: decline.declineCode, message: decline.message };
  }
  const customer = existingCustomer ?? (session.customer_creation === 'always' ? createCheckoutCustomer(store, billing) : null);
  pi.customer = customer?.id ?? null;
  confirmPaymentIntent(store, pi, paymentMethod, { billing });
  completeSession(store, session, { customer: customer?.id ?? null, billing });
  return { ok: true, redirectUrl: successRedirect(session) };
}

function createCheckoutCustomer(store: EmulatorStore, billing: BillingDetails): Stripe.Customer {
  const customer = buildCustomer({ email: billing.email, name: billing.name });
  store.customers.set(customer.id, customer);
  store.emit('customer.created', customer);
  return customer;
}

function completeSession(
  store: EmulatorStore,
  session: Stripe.Checkout.Session,
  p: { customer: string | null; billing: BillingDetails; subscription?: string; invoice?: string },
): void {
  session.status = 'complete';
  session.payment_status = 'paid';
  session.url = null; // Stripe only shows the URL while the session is open
  session.customer = p.customer;
  session.customer_details = {
    address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
    business_name: null,
    email: p.billing.email,
    individual_name: null,
    name: p.billing.name,
    phone: null,
    tax_exempt: 'none',
    tax_ids: [],
  } as Stripe.Checkout.Session.CustomerDetails;
  if (p.subscription) session.subscription = p.subscription;
  if (p.invoice) session.invoice = p.invoice;
  store.emit('checkout.session.completed', session);
}

function waitAtMost(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
