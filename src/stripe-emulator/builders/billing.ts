/** Builders for subscriptions, invoices and invoice payments (basil shapes), like Stripe's. */
import type Stripe from 'stripe';
import { newId, nowSeconds } from '../util';
import { planFromPrice } from './catalog';
import { shape } from './shape';

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
    invoice_settings: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: { type: 'self' } },
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
    trial_settings: { end_behavior: { billing_cycle_anchor: null, missing_payment_method: 'create_invoice' } },
    trial_start: null,
  });
}

export function buildInvoiceLine(p: {
  invoice: string;
  subscription: string;
  item: Stripe.SubscriptionItem;
  productName: string;
  formattedUnit: string;
  /** A trial period's line: nothing to pay. */
  trial: boolean;
}): Stripe.InvoiceLineItem {
  const price = p.item.price;
  const quantity = p.item.quantity ?? 1;
  const amount = p.trial ? 0 : (price.unit_amount ?? 0) * quantity;
  const interval = price.recurring?.interval ?? 'month';
  return shape<Stripe.InvoiceLineItem>({
    id: newId('il_'),
    object: 'line_item',
    amount,
    currency: price.currency,
    description: p.trial ? `Trial period for ${p.productName}` : `${quantity} × ${p.productName} (at ${p.formattedUnit} / ${interval})`,
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

export type SubscriptionBillingReason = 'subscription_create' | 'subscription_cycle' | 'subscription_update';

/** Basil shape: no `subscription`, `payment_intent`, `charge` or `paid`; the subscription hangs off `parent`. */
export function buildInvoice(p: {
  id: string;
  customer: Stripe.Customer;
  subscription: Stripe.Subscription;
  billingReason: SubscriptionBillingReason;
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

