/** Customer portal sessions (the API side; the pages are in portal-pages.ts), and what the portal's forms change. */
import type Stripe from 'stripe';
import { buildPortalSession } from './builders';
import type { CardDetails } from './cards';
import { updateCustomer } from './catalog';
import type { EmulatorContext } from './context';
import { invalidRequest, noSuch } from './errors';
import { optEnum, optObject, optString, rejectUnknown, reqString, validUrl, type Params } from './params';
import { attachCard } from './payments';
import { getOr404, type EmulatorStore } from './store';
import { updateSubscription } from './subscription-update';

const CREATE_PARAMS = ['after_expiration', 'configuration', 'customer', 'customer_account', 'expand', 'flow_data', 'locale', 'on_behalf_of', 'return_url'];
const FLOW_TYPES = ['payment_method_update', 'subscription_cancel', 'subscription_update', 'subscription_update_confirm'] as const;
/** Flows Stripe has that the emulator's portal page does not: refused by name. */
const FLOW_TYPES_NOT_EMULATED = ['customer_update', 'subscription_pause'] as const;

export function createPortalSession(ctx: EmulatorContext, params: Params): Stripe.BillingPortal.Session {
  const { store } = ctx;
  rejectUnknown(params, CREATE_PARAMS);
  const customer = reqString(params, 'customer');
  if (!store.customers.has(customer)) throw noSuch('customer', customer, 'customer');
  const returnUrlRaw = optString(params, 'return_url');
  const returnUrl = returnUrlRaw ? validUrl(returnUrlRaw, 'return_url') : null;
  const flowData = optObject(params, 'flow_data');
  const session = buildPortalSession({
    customer,
    returnUrl,
    flow: flowData ? flowParam(ctx, flowData, customer) : null,
    url: (id) => `${ctx.publicUrl}/portal/${id}`,
    locale: (optString(params, 'locale') ?? null) as Stripe.BillingPortal.Session.Locale | null,
  });
  store.portalSessions.set(session.id, session);
  return session;
}

function flowParam(ctx: EmulatorContext, data: Params, customer: string): Stripe.BillingPortal.Session.Flow {
  rejectUnknown(data, ['after_completion', 'subscription_cancel', 'subscription_pause', 'subscription_update', 'subscription_update_confirm', 'type'], 'flow_data');
  const type = optEnum(data, 'type', [...FLOW_TYPES, ...FLOW_TYPES_NOT_EMULATED], 'flow_data[type]');
  if (!type) throw invalidRequest('Missing required param: flow_data[type].', 'flow_data[type]', 'parameter_missing');
  if ((FLOW_TYPES_NOT_EMULATED as readonly string[]).includes(type)) {
    throw invalidRequest(`The Kettle Stripe emulator's portal does not support flow_data[type]=${type}.`, 'flow_data[type]');
  }

  const subscriptionFor = (key: string): string | null => {
    const section = optObject(data, key, `flow_data[${key}]`);
    if (type !== key) {
      if (section) throw invalidRequest(`flow_data[${key}] can only be used with flow_data[type]=${key}.`, `flow_data[${key}]`);
      return null;
    }
    if (!section) throw invalidRequest(`Missing required param: flow_data[${key}].`, `flow_data[${key}]`, 'parameter_missing');
    const id = reqString(section, 'subscription', `flow_data[${key}][subscription]`);
    const sub = ctx.store.subscriptions.get(id);
    if (!sub || sub.customer !== customer) throw noSuch('subscription', id, `flow_data[${key}][subscription]`);
    if (sub.status === 'canceled') throw invalidRequest(`The subscription ${id} has been canceled and cannot be updated.`, `flow_data[${key}][subscription]`);
    return id;
  };
  const cancel = subscriptionFor('subscription_cancel');
  const update = subscriptionFor('subscription_update');
  const updateConfirm = subscriptionFor('subscription_update_confirm');
  subscriptionFor('subscription_pause'); // refuses the section beside another type (the type itself is refused above)

  const after = optObject(data, 'after_completion', 'flow_data[after_completion]');
  const afterType = (after && optEnum(after, 'type', ['hosted_confirmation', 'portal_homepage', 'redirect'] as const, 'flow_data[after_completion][type]')) || 'portal_homepage';
  const redirect = after && optObject(after, 'redirect', 'flow_data[after_completion][redirect]');
  const redirectUrl = redirect ? reqString(redirect, 'return_url', 'flow_data[after_completion][redirect][return_url]') : null;
  if (afterType === 'redirect' && !redirectUrl) throw invalidRequest('Missing required param: flow_data[after_completion][redirect][return_url].', 'flow_data[after_completion][redirect][return_url]', 'parameter_missing');
  const confirmation = after && optObject(after, 'hosted_confirmation', 'flow_data[after_completion][hosted_confirmation]');

  return {
    type,
    after_completion: {
      type: afterType,
      hosted_confirmation: afterType === 'hosted_confirmation' ? { custom_message: (confirmation && optString(confirmation, 'custom_message')) || null } : null,
      redirect: afterType === 'redirect' ? { return_url: validUrl(redirectUrl!, 'flow_data[after_completion][redirect][return_url]') } : null,
    },
    customer_update: null,
    subscription_cancel: cancel ? { retention: null, subscription: cancel } : null,
    subscription_pause: null,
    subscription_update: update ? { subscription: update } : null,
    subscription_update_confirm: updateConfirm ? { discounts: null, items: [], subscription: updateConfirm } : null,
  } as Stripe.BillingPortal.Session.Flow;
}

/**
 * The portal's payment method form, once the card is accepted: the card is attached to the customer
 * (payment_method.attached), becomes the customer's invoice_settings.default_payment_method (customer.updated) and
 * the default_payment_method of each of the customer's subscriptions not canceled (customer.subscription.updated
 * each). An open invoice is not paid by this: it waits for its next retry, as on Stripe.
 */
export function replaceDefaultCard(store: EmulatorStore, session: Stripe.BillingPortal.Session, card: CardDetails): Stripe.PaymentMethod {
  const customer = getOr404(store.customers, session.customer, 'customer');
  const pm = attachCard(store, card, { email: customer.email, name: customer.name ?? null }, customer.id);
  updateCustomer(store, customer.id, { invoice_settings: { default_payment_method: pm.id } });
  for (const sub of customerSubscriptions(store, customer.id)) updateSubscription(store, sub.id, { default_payment_method: pm.id });
  return pm;
}

/** The subscriptions the portal shows and changes: every one of the customer's not canceled (nor expired unpaid). */
export function customerSubscriptions(store: EmulatorStore, customerId: string): Stripe.Subscription[] {
  return [...store.subscriptions.values()].filter((s) => s.customer === customerId && s.status !== 'canceled' && s.status !== 'incomplete_expired');
}
