import Stripe from 'stripe';

export { Stripe };

/** Metadata keys Kettle puts on every Checkout Session, PaymentIntent and Subscription it creates. */
export const META_CHECKOUT_INTENT = 'kettle_checkout_intent_id';
export const META_CAMPAIGN = 'kettle_campaign_id';

/**
 * The real stripe-node client. apiBase points it at any Stripe-compatible server (the built-in
 * emulator, or another in tests); unset, it talks to api.stripe.com with the SDK's pinned version.
 */
export function createStripeClient(opts: { secretKey: string; apiBase?: string }): Stripe {
  const base = opts.apiBase ? new URL(opts.apiBase) : undefined;
  return new Stripe(opts.secretKey, {
    maxNetworkRetries: 2,
    timeout: 15_000,
    telemetry: false,
    appInfo: { name: 'Kettle', url: 'https://github.com/kettle-fundraising/kettle' },
    ...(base && {
      host: base.hostname,
      port: base.port || (base.protocol === 'https:' ? 443 : 80),
      protocol: base.protocol === 'https:' ? 'https' : 'http',
    }),
  });
}

/** Accepts a Stripe id or an expanded object and gives the id. */
export function idOf(value: string | { id: string } | null | undefined): string | null {
  if (!value) return null;
  return typeof value === 'string' ? value : value.id;
}
