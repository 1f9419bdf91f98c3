/** Builders for products, prices and customers, shaped like Stripe's (API 2026-10-28.endive). */
import type Stripe from 'stripe';
import { newId, nowSeconds, type Interval } from '../util';
import { shape } from './shape';

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

