/** Products, prices and customers: the plain CRUD part of the API. */
import type Stripe from 'stripe';
import { previousAttributes, recurringParam } from './billing';
import { invalidRequest, noSuch } from './errors';
import { buildCustomer, buildPrice, buildProduct } from './builders';
import { createMetadata, currencyParam, mergeMetadata, metadataParam, optBool, optInt, optObject, optString, rejectUnknown, reqString, type Params } from './params';
import { getOr404, type EmulatorStore } from './store';
import { clone } from './util';

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
  const previous = previousAttributes(before, customer);
  if (Object.keys(previous).length > 0) store.emit('customer.updated', customer, previous);
  return customer;
}
