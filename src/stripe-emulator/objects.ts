/**
 * Builders for API objects, shaped field by field like Stripe's own (fixtures3.json and stripe-node's types,
 * API 2026-10-28.endive, basil-style invoices). They only build: state changes live in the flows.
 */
import type Stripe from 'stripe';
import type { CardDetails } from './cards';
import { newId, nowSeconds, type Interval } from './util';

/** Builders list every field Stripe sends but some nested types are wider than we fill: cast once here. */
function shape<T>(value: object): T {
  return value as T;
}

const NULL_ADDRESS = { city: null, country: null, line1: null, line2: null, postal_code: null, state: null };

export function buildProduct(p: { name: string; description?: string | null; metadata?: Record<string, string>; active?: boolean }): Stripe.Product {
  const created = nowSeconds();
  return shape<Stripe.Product>({
    id: newId('prod_'),
    object: 'product',
    active: p.active ?? true,
    created,
    default_price: null,
    description: p.description ?? null,
    images: [],
    livemode: false,
    marketing_features: [],
    metadata: p.metadata ?? {},
    name: p.name,
    package_dimensions: null,
    shippable: null,
    statement_descriptor: null,
    tax_code: null,
    tax_details: null,
    type: 'service',
    unit_label: null,
    updated: created,
    url: null,
  });
}

export interface RecurringSpec {
  interval: Interval;
  interval_count: number;
}

export function buildPrice(p: {
  currency: string;
  unitAmount: number;
  product: string;
  recurring: RecurringSpec | null;
  metadata?: Record<string, string>;
  nickname?: string | null;
  lookupKey?: string | null;
  active?: boolean;
}): Stripe.Price {
  return shape<Stripe.Price>({
    id: newId('price_'),
    object: 'price',
    active: p.active ?? true,
    billing_scheme: 'per_unit',
    created: nowSeconds(),
    currency: p.currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: p.lookupKey ?? null,
    metadata: p.metadata ?? {},
    nickname: p.nickname ?? null,
    product: p.product,
    recurring: p.recurring && {
      interval: p.recurring.interval,
      interval_count: p.recurring.interval_count,
      meter: null,
      trial_period_days: null,
      usage_type: 'licensed',
    },
    tax_behavior: 'unspecified',
    tiers_mode: null,
    transform_quantity: null,
    type: p.recurring ? 'recurring' : 'one_time',
    unit_amount: p.unitAmount,
    unit_amount_decimal: String(p.unitAmount),
  });
}

/** Subscription items still carry the legacy `plan` mirror of their price. */
export function planFromPrice(price: Stripe.Price): Stripe.Plan {
  return shape<Stripe.Plan>({
    id: price.id,
    object: 'plan',
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: price.unit_amount_decimal,
    billing_scheme: 'per_unit',
    created: price.created,
    currency: price.currency,
    interval: price.recurring?.interval ?? 'month',
    interval_count: price.recurring?.interval_count ?? 1,
    livemode: false,
    metadata: {},
    meter: null,
    nickname: price.nickname,
    product: price.product,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: null,
    usage_type: 'licensed',
  });
}

export function buildCustomer(p: {
  email?: string | null;
  name?: string | null;
  phone?: string | null;
  description?: string | null;
  metadata?: Record<string, string>;
}): Stripe.Customer {
  const id = newId('cus_');
  return shape<Stripe.Customer>({
    id,
    object: 'customer',
    address: null,
    balance: 0,
    created: nowSeconds(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: p.description ?? null,
    discount: null,
    email: p.email ?? null,
    invoice_prefix: id.slice(4, 12).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: p.metadata ?? {},
    name: p.name ?? null,
    next_invoice_sequence: 1,
    phone: p.phone ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  });
}

export interface BillingDetails {
  email: string | null;
  name: string | null;
}

function billingDetails(b: BillingDetails) {
  return { address: { ...NULL_ADDRESS }, email: b.email, name: b.name, phone: null, tax_id: null };
}

export function buildPaymentMethod(card: CardDetails, billing: BillingDetails, customer: string | null): Stripe.PaymentMethod {
  return shape<Stripe.PaymentMethod>({
    id: newId('pm_'),
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: billingDetails(billing),
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
      country: 'US',
      display_brand: card.brand,
      exp_month: card.expMonth,
      exp_year: card.expYear,
      fingerprint: fingerprint(card.number),
      funding: 'credit',
      generated_from: null,
      last4: card.last4,
      networks: { available: [card.brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: nowSeconds(),
    customer,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: 'card',
  });
}

/** Same card, same fingerprint: enough for duplicate detection in tests without revealing the number. */
function fingerprint(number: string): string {
  let h = 0;
  for (const ch of number) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `emu${h.toString(36)}`.padEnd(16, '0').slice(0, 16);
}

export function buildPaymentIntent(p: {
  amount: number;
  currency: string;
  customer: string | null;
  metadata: Record<string, string>;
  description: string | null;
  paymentMethod: string | null;
}): Stripe.PaymentIntent {
  const id = newId('pi_');
  return shape<Stripe.PaymentIntent>({
    id,
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: p.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: 'automatic_async',
    client_secret: `${id}_secret_${newId('')}`,
    confirmation_method: 'automatic',
    created: nowSeconds(),
    currency: p.currency,
    customer: p.customer,
    customer_account: null,
    description: p.description,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: p.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: p.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: { card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' } },
    payment_method_types: ['card'],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: 'requires_payment_method',
    transfer_data: null,
    transfer_group: null,
  });
}

export function buildCharge(p: {
  amount: number;
  currency: string;
  customer: string | null;
  paymentIntent: string;
  paymentMethod: Stripe.PaymentMethod;
  billing: BillingDetails;
  metadata: Record<string, string>;
  description: string | null;
}): Stripe.Charge {
  const card = p.paymentMethod.card!;
  const id = newId('ch_');
  // No `refunds` list: current API versions no longer embed it on charges.
  return shape<Stripe.Charge>({
    id,
    object: 'charge',
    amount: p.amount,
    amount_captured: p.amount,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: null,
    billing_details: billingDetails(p.billing),
    calculated_statement_descriptor: 'KETTLE EMULATOR',
    captured: true,
    created: nowSeconds(),
    currency: p.currency,
    customer: p.customer,
    description: p.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    fraud_details: {},
    livemode: false,
    metadata: p.metadata,
    on_behalf_of: null,
    outcome: {
      advice_code: null,
      network_advice_code: null,
      network_decline_code: null,
      network_status: 'approved_by_network',
      reason: null,
      risk_level: 'normal',
      risk_score: 32,
      seller_message: 'Payment complete.',
      type: 'authorized',
    },
    paid: true,
    payment_intent: p.paymentIntent,
    payment_method: p.paymentMethod.id,
    payment_method_details: {
      card: {
        amount_authorized: p.amount,
        authorization_code: null,
        brand: card.brand,
        checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
        country: card.country,
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        extended_authorization: { status: 'disabled' },
        fingerprint: card.fingerprint,
        funding: card.funding,
        incremental_authorization: { status: 'unavailable' },
        installments: null,
        last4: card.last4,
        mandate: null,
        multicapture: { status: 'unavailable' },
        network: card.brand,
        network_token: { used: false },
        network_transaction_id: null,
        overcapture: { maximum_amount_capturable: p.amount, status: 'unavailable' },
        regulated_status: 'unregulated',
        three_d_secure: null,
        wallet: null,
      },
      type: 'card',
    },
    receipt_email: p.billing.email,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: 'succeeded',
    transfer_data: null,
    transfer_group: null,
  });
}

export function buildRefund(p: {
  amount: number;
  charge: Stripe.Charge;
  reason: Stripe.Refund.Reason | null;
  metadata: Record<string, string>;
}): Stripe.Refund {
  return shape<Stripe.Refund>({
    id: newId('re_'),
    object: 'refund',
    amount: p.amount,
    balance_transaction: null,
    charge: p.charge.id,
    created: nowSeconds(),
    currency: p.charge.currency,
    customer: p.charge.customer,
    customer_account: null,
    destination_details: { card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' }, type: 'card' },
    metadata: p.metadata,
    payment_intent: p.charge.payment_intent,
    payment_method: p.charge.payment_method,
    reason: p.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  });
}

export function buildDispute(charge: Stripe.Charge, amount: number): Stripe.Dispute {
  const created = nowSeconds();
  const evidenceFields = [
    'access_activity_log', 'billing_address', 'cancellation_policy', 'cancellation_policy_disclosure', 'cancellation_rebuttal',
    'customer_communication', 'customer_email_address', 'customer_name', 'customer_purchase_ip', 'customer_signature',
    'duplicate_charge_documentation', 'duplicate_charge_explanation', 'duplicate_charge_id', 'product_description', 'receipt',
    'refund_policy', 'refund_policy_disclosure', 'refund_refusal_explanation', 'service_date', 'service_documentation',
    'shipping_address', 'shipping_carrier', 'shipping_date', 'shipping_documentation', 'shipping_tracking_number',
    'uncategorized_file', 'uncategorized_text',
  ];
  const evidence: Record<string, unknown> = Object.fromEntries(evidenceFields.map((f) => [f, null]));
  evidence.enhanced_evidence = {};
  const brand = charge.payment_method_details?.card?.brand ?? 'visa';
  return shape<Stripe.Dispute>({
    id: newId('dp_'),
    object: 'dispute',
    amount,
    balance_transactions: [],
    charge: charge.id,
    created,
    currency: charge.currency,
    enhanced_eligibility_types: [],
    evidence,
    evidence_details: { due_by: created + 7 * 86_400, enhanced_eligibility: {}, has_evidence: false, past_due: false, submission_count: 0 },
    intended_submission_method: null,
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    payment_intent: charge.payment_intent,
    payment_method_details: { card: { brand, case_type: 'chargeback', network_reason_code: '10.4' }, type: 'card' },
    reason: 'fraudulent',
    status: 'needs_response',
  });
}

export function buildCheckoutSession(p: {
  mode: 'payment' | 'subscription';
  url: (id: string) => string;
  amountTotal: number;
  currency: string;
  customer: string | null;
  customerEmail: string | null;
  customerCreation: 'always' | 'if_required' | null;
  clientReferenceId: string | null;
  metadata: Record<string, string>;
  submitType: Stripe.Checkout.Session.SubmitType | null;
  successUrl: string;
  cancelUrl: string | null;
  expiresAt: number;
  locale: string | null;
}): Stripe.Checkout.Session {
  const id = newId('cs_test_');
  return shape<Stripe.Checkout.Session>({
    id,
    object: 'checkout.session',
    adaptive_pricing: { enabled: false },
    after_expiration: null,
    allow_promotion_codes: null,
    amount_subtotal: p.amountTotal,
    amount_total: p.amountTotal,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    cancel_url: p.cancelUrl,
    client_reference_id: p.clientReferenceId,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created: nowSeconds(),
    currency: p.currency,
    currency_conversion: null,
    custom_fields: [],
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: p.customer,
    customer_account: null,
    customer_creation: p.customerCreation,
    customer_details: null,
    customer_email: p.customerEmail,
    discounts: [],
    expires_at: p.expiresAt,
    integration_identifier: null,
    invoice: null,
    invoice_creation: p.mode === 'payment' ? { enabled: false, invoice_data: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: null, metadata: {}, rendering_options: null } } : null,
    livemode: false,
    locale: p.locale,
    managed_payments: null,
    metadata: p.metadata,
    mode: p.mode,
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_collection: p.mode === 'subscription' ? 'always' : null,
    payment_method_configuration_details: null,
    payment_method_options: { card: { request_three_d_secure: 'automatic' } },
    payment_method_types: ['card'],
    payment_status: 'unpaid',
    permissions: null,
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: 'open',
    submit_type: p.submitType,
    subscription: null,
    success_url: p.successUrl,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted',
    url: p.url(id),
    wallet_options: null,
  });
}

export function buildCheckoutLineItem(price: Stripe.Price, quantity: number, description: string): Stripe.LineItem {
  const amount = (price.unit_amount ?? 0) * quantity;
  return shape<Stripe.LineItem>({
    id: newId('li_'),
    object: 'item',
    amount_discount: 0,
    amount_subtotal: amount,
    amount_tax: 0,
    amount_total: amount,
    currency: price.currency,
    description,
    metadata: {},
    price,
    quantity,
  });
}

export function buildSubscriptionItem(p: { subscription: string; price: Stripe.Price; quantity: number; periodStart: number; periodEnd: number }): Stripe.SubscriptionItem {
  return shape<Stripe.SubscriptionItem>({
    id: newId('si_'),
    object: 'subscription_item',
    billing_thresholds: null,
    created: nowSeconds(),
    current_period_end: p.periodEnd,
    current_period_start: p.periodStart,
    current_trial: null,
    discounts: [],
    metadata: {},
    plan: planFromPrice(p.price),
    price: p.price,
    quantity: p.quantity,
    subscription: p.subscription,
    tax_rates: [],
  });
}

export function buildSubscription(p: {
  id: string;
  customer: string;
  currency: string;
  items: Stripe.SubscriptionItem[];
  metadata: Record<string, string>;
  defaultPaymentMethod: string;
  description: string | null;
}): Stripe.Subscription {
  const created = nowSeconds();
  return shape<Stripe.Subscription>({
    id: p.id,
    object: 'subscription',
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: p.items[0]?.current_period_start ?? created,
    billing_cycle_anchor_config: null,
    billing_mode: { type: 'flexible', flexible: { proration_discounts: 'included' }, updated_at: created },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
    collection_method: 'charge_automatically',
    created,
    currency: p.currency,
    customer: p.customer,
    customer_account: null,
    days_until_due: null,
    default_payment_method: p.defaultPaymentMethod,
    default_source: null,
    default_tax_rates: [],
    description: p.description,
    discounts: [],
    ended_at: null,
    invoice_settings: { account_tax_ids: null, issuer: { type: 'self' } },
    items: { object: 'list', data: p.items, has_more: false, total_count: p.items.length, url: `/v1/subscription_items?subscription=${p.id}` },
    latest_invoice: null,
    livemode: false,
    managed_payments: null,
    metadata: p.metadata,
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: created,
    status: 'active',
    test_clock: null,
    transfer_data: null,
    trial_end: null,
    trial_settings: { end_behavior: { missing_payment_method: 'create_invoice' } },
    trial_start: null,
  });
}

export function buildInvoiceLine(p: {
  invoice: string;
  subscription: string;
  item: Stripe.SubscriptionItem;
  productName: string;
  formattedUnit: string;
}): Stripe.InvoiceLineItem {
  const price = p.item.price;
  const quantity = p.item.quantity ?? 1;
  const amount = (price.unit_amount ?? 0) * quantity;
  const interval = price.recurring?.interval ?? 'month';
  return shape<Stripe.InvoiceLineItem>({
    id: newId('il_'),
    object: 'line_item',
    amount,
    currency: price.currency,
    description: `${quantity} × ${p.productName} (at ${p.formattedUnit} / ${interval})`,
    discount_amounts: [],
    discountable: true,
    discounts: [],
    invoice: p.invoice,
    livemode: false,
    metadata: {},
    parent: {
      type: 'subscription_item_details',
      invoice_item_details: null,
      subscription_item_details: {
        invoice_item: null,
        proration: false,
        proration_details: { credited_items: null },
        subscription: p.subscription,
        subscription_item: p.item.id,
      },
    },
    period: { start: p.item.current_period_start, end: p.item.current_period_end },
    pretax_credit_amounts: [],
    pricing: { type: 'price_details', price_details: { price: price.id, product: typeof price.product === 'string' ? price.product : price.product.id }, unit_amount_decimal: price.unit_amount_decimal },
    quantity,
    quantity_decimal: String(quantity),
    subscription: p.subscription,
    subtotal: amount,
    taxes: [],
  });
}

/** Basil shape: no `subscription`, `payment_intent`, `charge` or `paid`; the subscription hangs off `parent`. */
export function buildInvoice(p: {
  id: string;
  customer: Stripe.Customer;
  subscription: Stripe.Subscription;
  billingReason: 'subscription_create' | 'subscription_cycle';
  lines: Stripe.InvoiceLineItem[];
  periodStart: number;
  periodEnd: number;
}): Stripe.Invoice {
  const total = p.lines.reduce((sum, l) => sum + l.amount, 0);
  const created = nowSeconds();
  return shape<Stripe.Invoice>({
    id: p.id,
    object: 'invoice',
    account_country: 'US',
    account_name: 'Kettle (Stripe emulator)',
    account_tax_ids: null,
    amount_due: total,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: total,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: true,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null,
    billing_reason: p.billingReason,
    collection_method: 'charge_automatically',
    created,
    currency: p.subscription.currency,
    custom_fields: null,
    customer: p.customer.id,
    customer_account: null,
    customer_address: null,
    customer_email: p.customer.email,
    customer_name: p.customer.name ?? null,
    customer_phone: p.customer.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: 'none',
    customer_tax_ids: [],
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    due_date: null,
    effective_at: null,
    ending_balance: null,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: 'self' },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: 'list', data: p.lines, has_more: false, total_count: p.lines.length, url: `/v1/invoices/${p.id}/lines` },
    livemode: false,
    metadata: {},
    next_payment_attempt: null,
    number: null,
    on_behalf_of: null,
    parent: {
      type: 'subscription_details',
      quote_details: null,
      subscription_details: { metadata: { ...p.subscription.metadata }, subscription: p.subscription.id },
    },
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: p.periodEnd,
    period_start: p.periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: 'draft',
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: total,
    subtotal_excluding_tax: total,
    test_clock: null,
    total,
    total_discount_amounts: [],
    total_excluding_tax: total,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: created,
  });
}

export function buildInvoicePayment(invoice: Stripe.Invoice, paymentIntent: string): Stripe.InvoicePayment {
  return shape<Stripe.InvoicePayment>({
    id: newId('inpay_'),
    object: 'invoice_payment',
    amount_paid: null,
    amount_requested: invoice.amount_due,
    created: nowSeconds(),
    currency: invoice.currency,
    invoice: invoice.id,
    is_default: true,
    livemode: false,
    payment: { type: 'payment_intent', payment_intent: paymentIntent },
    status: 'open',
    status_transitions: { canceled_at: null, paid_at: null },
  });
}

export function buildPortalSession(p: { customer: string; returnUrl: string | null; flow: Stripe.BillingPortal.Session.Flow | null; url: (id: string) => string; locale: string | null }): Stripe.BillingPortal.Session {
  const id = newId('bps_');
  return shape<Stripe.BillingPortal.Session>({
    id,
    object: 'billing_portal.session',
    configuration: 'bpc_emulator',
    created: nowSeconds(),
    customer: p.customer,
    customer_account: null,
    flow: p.flow,
    livemode: false,
    locale: p.locale,
    on_behalf_of: null,
    return_url: p.returnUrl,
    url: p.url(id),
  });
}
