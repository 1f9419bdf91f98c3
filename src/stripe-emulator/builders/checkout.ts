/** Builders for Checkout Sessions, their line items and billing portal sessions, shaped like Stripe's. */
import type Stripe from 'stripe';
import { newId, nowSeconds } from '../util';
import { shape } from './shape';

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
  uiMode: 'hosted_page' | 'hosted';
}): Stripe.Checkout.Session {
  const id = newId('cs_test_');
  return shape<Stripe.Checkout.Session>({
    id,
    object: 'checkout.session',
    adaptive_pricing: { enabled: false },
    after_expiration: null,
    allowed_payment_method_types: null,
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
    ui_mode: p.uiMode,
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

