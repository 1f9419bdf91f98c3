import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll } from 'vitest';
import { startStripeEmulator, type CheckoutCard, type StripeEmulator, type StripeEmulatorOptions } from '../../src/stripe-emulator';

/** The real SDK, pointed at the emulator. */
export function stripeFor(emulator: StripeEmulator, key = 'sk_test_emulator'): Stripe {
  const u = new URL(emulator.url);
  return new Stripe(key, { host: u.hostname, port: Number(u.port), protocol: 'http', maxNetworkRetries: 0 });
}

export async function startEmulator(opts?: StripeEmulatorOptions): Promise<{ emulator: StripeEmulator; stripe: Stripe }> {
  const emulator = await startStripeEmulator(opts);
  return { emulator, stripe: stripeFor(emulator) };
}

/** One emulator for the whole test file: started before its tests (handed to `use`), closed after them. */
export function withEmulator(use: (started: { emulator: StripeEmulator; stripe: Stripe }) => void, opts?: StripeEmulatorOptions): void {
  let emulator: StripeEmulator | undefined;
  beforeAll(async () => {
    const started = await startEmulator(opts);
    emulator = started.emulator;
    use(started);
  });
  afterAll(async () => {
    await emulator?.close();
  });
}

/**
 * One emulator and a product ('Monthly gift') for the whole test file, for files about subscriptions: the fields
 * are filled before the file's tests run.
 */
export function emulatorWithProduct(): { emulator: StripeEmulator; stripe: Stripe; product: Stripe.Product } {
  const env = {} as { emulator: StripeEmulator; stripe: Stripe; product: Stripe.Product };
  beforeAll(async () => {
    Object.assign(env, await startEmulator());
    env.product = await env.stripe.products.create({ name: 'Monthly gift' });
  });
  afterAll(async () => {
    await env.emulator?.close();
  });
  return env;
}

export interface ReceivedWebhook {
  body: string;
  signature: string;
  contentType: string;
}

/** A tiny webhook endpoint that records raw bodies; `status` decides each answer (default 200). */
export async function startWebhookReceiver(status: (n: number) => number = () => 200) {
  const received: ReceivedWebhook[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        body: Buffer.concat(chunks).toString('utf8'),
        signature: String(req.headers['stripe-signature'] ?? ''),
        contentType: String(req.headers['content-type'] ?? ''),
      });
      res.statusCode = status(received.length);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/stripe`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const SUCCESS_URL = 'https://kettle.example/thanks?session_id={CHECKOUT_SESSION_ID}';
export const CANCEL_URL = 'https://kettle.example/give';

/** A one-off gift as Kettle creates it (see NOTES.md). */
export function oneOffGift(overrides: Partial<Stripe.Checkout.SessionCreateParams> = {}): Stripe.Checkout.SessionCreateParams {
  return {
    mode: 'payment',
    submit_type: 'donate',
    line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 2500, product_data: { name: 'Gift to the Library Fund' } } }],
    customer_creation: 'always',
    customer_email: 'donor@example.org',
    client_reference_id: 'intent-1',
    metadata: { kettle_checkout_intent_id: 'intent-1' },
    payment_intent_data: { metadata: { kettle_checkout_intent_id: 'intent-1', kettle_campaign_id: 'camp-1' } },
    success_url: SUCCESS_URL,
    cancel_url: CANCEL_URL,
    ...overrides,
  };
}

/** A monthly gift as Kettle creates it. */
export function monthlyGift(product: string, overrides: Partial<Stripe.Checkout.SessionCreateParams> = {}): Stripe.Checkout.SessionCreateParams {
  return {
    mode: 'subscription',
    submit_type: 'donate',
    line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 1000, product, recurring: { interval: 'month' } } }],
    customer_email: 'monthly@example.org',
    subscription_data: { metadata: { kettle_checkout_intent_id: 'intent-m', kettle_campaign_id: 'camp-1' } },
    success_url: SUCCESS_URL,
    cancel_url: CANCEL_URL,
    ...overrides,
  };
}

/** Event types emitted since `mark` (an index into emulator.events). */
export function typesSince(emulator: StripeEmulator, mark: number): string[] {
  return emulator.events.slice(mark).map((e) => e.type);
}

/** Creates and pays a gift session (monthly unless `session` says otherwise); returns the completed session and its subscription. */
export async function subscribe(
  { emulator, stripe }: { emulator: StripeEmulator; stripe: Stripe },
  product: string,
  opts: { session?: Partial<Stripe.Checkout.SessionCreateParams>; card?: CheckoutCard } = {},
): Promise<{ session: Stripe.Checkout.Session; subscription: Stripe.Subscription }> {
  const created = await stripe.checkout.sessions.create(monthlyGift(product, opts.session));
  const result = await emulator.pay(created.id, opts.card ?? { number: '4242424242424242', email: 'typed@example.org', name: 'Grace Hopper' });
  if (!result.ok) throw new Error(`payment declined: ${result.message}`);
  const session = await stripe.checkout.sessions.retrieve(created.id);
  return { session, subscription: await stripe.subscriptions.retrieve(session.subscription as string) };
}

/** POSTs form fields to a test control (`/_emulator/...`) with a test key. */
export function postControl(emulator: StripeEmulator, path: string, fields: Record<string, string> = {}): Promise<Response> {
  return fetch(`${emulator.url}/_emulator${path}`, {
    method: 'POST',
    headers: { Authorization: 'Bearer sk_test_controls', 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

/** A hosted page form submission that does not follow the redirect. */
export function formPost(fields: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  };
}
