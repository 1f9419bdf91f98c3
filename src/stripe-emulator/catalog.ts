/** Products, prices and customers: the plain CRUD part of the API. */
import type Stripe from 'stripe';
import { invalidRequest, noSuch } from './errors';
import { buildCustomer, buildPrice, buildProduct } from './builders';
import { createMetadata, currencyParam, mergeMetadata, metadataParam, optBool, optEnum, optInt, optObject, optString, rejectUnknown, reqString, type Params } from './params';
import { getOr404, type EmulatorStore } from './store';
import { clone, INTERVALS, previousAttributes, type Interval } from './util';

const PRODUCT_CREATE_PARAMS = ['name', 'active', 'default_price_data', 'description', 'expand', 'id', 'images', 'marketing_features', 'metadata', 'package_dimensions', 'shippable', 'statement_descriptor', 'tax_code', 'tax_details', 'type', 'unit_label', 'url'];

export function createProduct(store: EmulatorStore, params: Params, opts: { emit: boolean } = { emit: true }): Stripe.Product {
  rejectUnknown(params, PRODUCT_CREATE_PARAMS);
  const name = reqString(params, 'name');
  const product = buildProduct({
    name,
    description: optString(params, 'description') ?? null,
    metadata: createMetadata(params),
    active: optBool(params, 'active'),
  });
  const id = optString(params, 'id');
  if (id) {
    if (store.products.has(id)) throw invalidRequest(`Product already exists.`, 'id', 'resource_already_exists');
    product.id = id;
  }
  store.products.set(product.id, product);
  if (opts.emit) store.emit('product.created', product);
  return product;
}

const PRICE_CREATE_PARAMS = ['currency', 'active', 'billing_scheme', 'currency_options', 'custom_unit_amount', 'expand', 'lookup_key', 'metadata', 'nickname', 'product', 'product_data', 'recurring', 'tax_behavior', 'tiers', 'tiers_mode', 'transfer_lookup_key', 'transform_quantity', 'unit_amount', 'unit_amount_decimal'];

export function createPrice(store: EmulatorStore, params: Params): Stripe.Price {
  rejectUnknown(params, PRICE_CREATE_PARAMS);
  const currency = currencyParam(params, 'currency');
  const product = productFor(store, params, '', { emitProduct: true });
  const unitAmount = optInt(params, 'unit_amount');
  if (unitAmount === undefined) throw invalidRequest('Missing required param: unit_amount.', 'unit_amount', 'parameter_missing');
  if (unitAmount < 0) throw invalidRequest('Invalid non-negative integer', 'unit_amount');
  const recurringRaw = optObject(params, 'recurring');
  const price = buildPrice({
    currency,
    unitAmount,
    product: product.id,
    recurring: recurringRaw ? recurringParam(recurringRaw, 'recurring') : null,
    metadata: createMetadata(params),
    nickname: optString(params, 'nickname') ?? null,
    lookupKey: optString(params, 'lookup_key') ?? null,
    active: optBool(params, 'active'),
  });
  store.prices.set(price.id, price);
  store.emit('price.created', price);
  return price;
}

/** A price's `recurring`: interval and count (at most three years in all, as on Stripe). */
export function recurringParam(raw: Params, param: string): { interval: Interval; interval_count: number } {
  rejectUnknown(raw, ['interval', 'interval_count', 'meter', 'usage_type', 'trial_period_days'], param);
  const interval = optEnum(raw, 'interval', INTERVALS, `${param}[interval]`);
  if (!interval) throw invalidRequest(`Missing required param: ${param}[interval].`, `${param}[interval]`, 'parameter_missing');
  const count = optInt(raw, 'interval_count', `${param}[interval_count]`) ?? 1;
  const maxCount = { day: 1095, week: 156, month: 36, year: 3 }[interval];
  if (count < 1 || count > maxCount) throw invalidRequest('The maximum billing interval is three years.', `${param}[interval_count]`);
  return { interval, interval_count: count };
}

/** `product` (an id) or `product_data` ({name, ...}), as prices and price_data accept. */
export function productFor(store: EmulatorStore, params: Params, prefix: string, opts: { emitProduct: boolean }): Stripe.Product {
  const p = (name: string) => (prefix ? `${prefix}[${name}]` : name);
  const productId = optString(params, 'product', p('product'));
  const productData = optObject(params, 'product_data', p('product_data'));
  if (productId && productData) throw invalidRequest('You may only specify one of these parameters: product, product_data.', p('product'));
  if (productId) {
    const product = store.products.get(productId);
    if (!product) throw noSuch('product', productId, p('product'));
    return product;
  }
  if (!productData) throw invalidRequest(`You must specify either \`product\` or \`product_data\` when creating a price.`, p('product'), 'parameter_missing');
  rejectUnknown(productData, ['name', 'active', 'description', 'images', 'metadata', 'statement_descriptor', 'tax_code', 'tax_details', 'unit_label', 'id'], p('product_data'));
  const product = buildProduct({
    name: reqString(productData, 'name', `${p('product_data')}[name]`),
    description: optString(productData, 'description', `${p('product_data')}[description]`) ?? null,
    metadata: createMetadata(productData, 'metadata', `${p('product_data')}[metadata]`),
  });
  store.products.set(product.id, product);
  if (opts.emitProduct) store.emit('product.created', product);
  return product;
}

const CUSTOMER_PARAMS = ['address', 'balance', 'business_name', 'cash_balance', 'default_source', 'description', 'email', 'expand', 'individual_name', 'invoice_prefix', 'invoice_settings', 'metadata', 'name', 'next_invoice_sequence', 'payment_method', 'phone', 'preferred_locales', 'shipping', 'source', 'tax', 'tax_exempt', 'tax_id_data', 'test_clock', 'validate'];

export function createCustomer(store: EmulatorStore, params: Params): Stripe.Customer {
  rejectUnknown(params, CUSTOMER_PARAMS);
  const customer = buildCustomer({
    email: optString(params, 'email') || null,
    name: optString(params, 'name') || null,
    phone: optString(params, 'phone') || null,
    description: optString(params, 'description') || null,
    metadata: createMetadata(params),
  });
  store.customers.set(customer.id, customer);
  store.emit('customer.created', customer);
  return customer;
}

/** `invoice_settings[default_payment_method]`: a card attached to this customer, or "" to unset it. */
function defaultPaymentMethodParam(store: EmulatorStore, customer: Stripe.Customer, settings: Params): string | null {
  rejectUnknown(settings, ['custom_fields', 'default_payment_method', 'footer', 'rendering_options'], 'invoice_settings');
  const refused = ['custom_fields', 'footer', 'rendering_options'].find((name) => settings[name] !== undefined);
  if (refused) throw invalidRequest(`The Kettle Stripe emulator does not support invoice_settings[${refused}].`, `invoice_settings[${refused}]`);
  const id = optString(settings, 'default_payment_method', 'invoice_settings[default_payment_method]');
  if (id === undefined) return customer.invoice_settings.default_payment_method as string | null;
  if (id === '') return null;
  const pm = store.paymentMethods.get(id);
  if (!pm) throw noSuch('PaymentMethod', id, 'invoice_settings[default_payment_method]');
  if (pm.customer !== customer.id) {
    throw invalidRequest(`The customer does not have a payment method with the ID ${id}. The payment method must be attached to the customer.`, 'invoice_settings[default_payment_method]');
  }
  return id;
}

export function updateCustomer(store: EmulatorStore, id: string, params: Params): Stripe.Customer {
  rejectUnknown(params, CUSTOMER_PARAMS);
  const customer = getOr404(store.customers, id, 'customer');
  const before = clone(customer);
  for (const field of ['email', 'name', 'phone', 'description'] as const) {
    const value = optString(params, field);
    if (value !== undefined) customer[field] = value || null;
  }
  const metadata = metadataParam(params);
  if (metadata !== undefined) customer.metadata = mergeMetadata(customer.metadata, metadata);
  const invoiceSettings = optObject(params, 'invoice_settings');
  if (invoiceSettings) customer.invoice_settings.default_payment_method = defaultPaymentMethodParam(store, customer, invoiceSettings);
  const previous = previousAttributes(before, customer);
  if (Object.keys(previous).length > 0) store.emit('customer.updated', customer, previous);
  return customer;
}
