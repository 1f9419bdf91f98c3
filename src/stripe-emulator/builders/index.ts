/**
 * Builders for API objects, shaped field by field like Stripe's own (fixtures3.json and stripe-node's types,
 * API 2026-10-28.endive, basil-style invoices). They only build: state changes live in the flows.
 */
export * from './balance';
export * from './billing';
export * from './catalog';
export * from './checkout';
export * from './payments';
export { billingDetails, NULL_ADDRESS, type BillingDetails } from './shape';
