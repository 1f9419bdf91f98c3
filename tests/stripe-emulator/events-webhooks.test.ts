import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import Stripe from 'stripe';
import { signatureHeader, type StripeEmulator } from '../../src/stripe-emulator';
import { oneOffGift, startEmulator, startWebhookReceiver, stripeFor } from './helpers';

const SECRET = 'whsec_test_emulator_secret';

describe('events.list', () => {
  let emulator: StripeEmulator;
  let stripe: Stripe;
  beforeAll(async () => {
    ({ emulator, stripe } = await startEmulator());
    for (let i = 0; i < 4; i++) {
      const session = await stripe.checkout.sessions.create(oneOffGift());
      await emulator.pay(session.id, { number: '4242424242424242' }); // 4 events each
    }
  });
  afterAll(async () => {
    await emulator.close();
  });

  it('lists newest first with has_more and url, and retrieves by id', async () => {
    const page = await stripe.events.list({ limit: 3 });
    expect(page).toMatchObject({ object: 'list', has_more: true, url: '/v1/events' });
    expect(page.data.map((e) => e.id)).toEqual(emulator.events.slice(-3).reverse().map((e) => e.id));
    const event = await stripe.events.retrieve(page.data[0]!.id);
    expect(event).toEqual(page.data[0]);
    await expect(stripe.events.list({ limit: 101 })).rejects.toMatchObject({ statusCode: 400, param: 'limit' });
  });

  it('auto-paginates with for await over more than 10 events', async () => {
    const seen: string[] = [];
    for await (const event of stripe.events.list({ limit: 5 })) seen.push(event.id);
    expect(seen).toHaveLength(emulator.events.length);
    expect(emulator.events.length).toBeGreaterThan(10);
    expect(seen).toEqual(emulator.events.map((e) => e.id).reverse());
  });

  it('filters by type, types[] (with wildcards), created and delivery_success', async () => {
    const completed = await stripe.events.list({ type: 'checkout.session.completed', limit: 100 });
    expect(completed.data).toHaveLength(4);
    const several = await stripe.events.list({ types: ['charge.succeeded', 'customer.created'], limit: 100 });
    expect(several.data).toHaveLength(8);
    const wildcard = await stripe.events.list({ type: 'payment_intent.*', limit: 100 });
    expect(wildcard.data.every((e) => e.type.startsWith('payment_intent.'))).toBe(true);

    const newest = emulator.events.at(-1)!.created;
    expect((await stripe.events.list({ created: { gt: newest }, limit: 100 })).data).toHaveLength(0);
    expect((await stripe.events.list({ created: { gte: newest - 3600, lte: newest }, limit: 100 })).data.length).toBe(emulator.events.length);

    // No webhook endpoint: nothing was delivered.
    const undelivered: string[] = [];
    for await (const e of stripe.events.list({ delivery_success: false, types: ['checkout.session.completed'] })) undelivered.push(e.id);
    expect(undelivered).toHaveLength(4);
    expect((await stripe.events.list({ delivery_success: true })).data).toHaveLength(0);
  });

  it('rejects type together with types', async () => {
    await expect(stripe.events.list({ type: 'a', types: ['b'] })).rejects.toMatchObject({ statusCode: 400 });
  });
});

describe('webhook delivery', () => {
  it('delivers signed events, in order, that stripe.webhooks.constructEvent accepts', async () => {
    const receiver = await startWebhookReceiver();
    const { emulator, stripe } = await startEmulator({ webhook: { url: receiver.url, secret: SECRET } });
    try {
      const session = await stripe.checkout.sessions.create(oneOffGift());
      await emulator.pay(session.id, { number: '4242424242424242' });
      await emulator.idle();

      expect(receiver.received.map((r) => (JSON.parse(r.body) as Stripe.Event).type)).toEqual([
        'customer.created',
        'charge.succeeded',
        'payment_intent.succeeded',
        'checkout.session.completed',
      ]);
      const last = receiver.received.at(-1)!;
      expect(last.contentType).toMatch(/^application\/json/);
      // Pretty-printed like Stripe's payloads; pending_webhooks counted this delivery and is 0 now.
      expect(last.body).toBe(JSON.stringify({ ...emulator.events.at(-1)!, pending_webhooks: 1 }, null, 2));
      expect(emulator.events.at(-1)!.pending_webhooks).toBe(0);

      const event = stripe.webhooks.constructEvent(last.body, last.signature, SECRET);
      expect(event.type).toBe('checkout.session.completed');
      expect((event.data.object as Stripe.Checkout.Session).id).toBe(session.id);
      expect(() => stripe.webhooks.constructEvent(last.body, last.signature, 'whsec_wrong')).toThrow(Stripe.errors.StripeSignatureVerificationError);
      expect(() => stripe.webhooks.constructEvent(last.body.replace('complete', 'open'), last.signature, SECRET)).toThrow();

      // Delivered events are marked, so reconciliation finds nothing missing.
      expect((await stripe.events.list({ delivery_success: false })).data).toHaveLength(0);
      expect((await stripe.events.list({ delivery_success: true, limit: 100 })).data).toHaveLength(4);
      expect(emulator.deliveryLog.every((d) => d.outcome === 'delivered')).toBe(true);
    } finally {
      await emulator.close();
      await receiver.close();
    }
  });

  it('retries a failing endpoint, then gives up and leaves the event undelivered', async () => {
    const receiver = await startWebhookReceiver((n) => (n === 1 ? 500 : n <= 4 ? 200 : 503));
    const { emulator, stripe } = await startEmulator({ webhook: { url: receiver.url, secret: SECRET }, webhookRetryDelaysMs: [5, 5] });
    try {
      await stripe.customers.create({ email: 'a@example.org' }); // attempt 1 fails, attempt 2 succeeds
      await emulator.idle();
      expect(receiver.received).toHaveLength(2);
      expect(emulator.deliveryLog.map((d) => d.outcome)).toEqual(['retrying', 'delivered']);

      await stripe.customers.create({ email: 'b@example.org' }); // 3: ok
      await stripe.customers.create({ email: 'c@example.org' }); // 4: ok
      await stripe.customers.create({ email: 'd@example.org' }); // 5, 6, 7: 503
      await emulator.idle();
      expect(emulator.deliveryLog.slice(-3).map((d) => d.outcome)).toEqual(['retrying', 'retrying', 'gave_up']);
      const undelivered = await stripe.events.list({ delivery_success: false });
      expect(undelivered.data.map((e) => (e.data.object as Stripe.Customer).email)).toEqual(['d@example.org']);
    } finally {
      await emulator.close();
      await receiver.close();
    }
  });

  it('counts a redirect as a failed delivery, as Stripe does (a mistyped endpoint must show)', async () => {
    const hits: string[] = [];
    const server = http.createServer((req, res) => {
      hits.push(req.url ?? '');
      req.resume();
      req.on('end', () => {
        if (req.url === '/old') res.writeHead(308, { Location: '/new' }).end();
        else res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const { emulator, stripe } = await startEmulator({ webhook: { url: `http://127.0.0.1:${port}/old`, secret: SECRET }, webhookRetryDelaysMs: [1] });
    try {
      await stripe.customers.create({ email: 'moved@example.org' });
      await emulator.idle();
      expect(hits).toEqual(['/old', '/old']);
      expect(emulator.deliveryLog.map((d) => d.outcome)).toEqual(['retrying', 'gave_up']);
    } finally {
      await emulator.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('deliver() signs now and posts once; autoDeliver off queues nothing', async () => {
    const receiver = await startWebhookReceiver();
    const { emulator, stripe } = await startEmulator({ autoDeliver: false });
    try {
      await stripe.customers.create({ email: 'a@example.org' });
      await emulator.idle();
      emulator.setWebhook({ url: receiver.url, secret: SECRET });
      expect(receiver.received).toHaveLength(0);
      const res = await emulator.deliver(emulator.events[0]!);
      expect(res).toEqual({ status: 200, body: 'ok' });
      expect(receiver.received).toHaveLength(1);
      expect(stripe.webhooks.constructEvent(receiver.received[0]!.body, receiver.received[0]!.signature, SECRET).id).toBe(emulator.events[0]!.id);

      // The exported signer matches stripe-node's own test header.
      const header = signatureHeader('{"a":1}', SECRET, 1700000000);
      expect(header).toBe(stripe.webhooks.generateTestHeaderString({ payload: '{"a":1}', secret: SECRET, timestamp: 1700000000 }));
    } finally {
      await emulator.close();
      await receiver.close();
    }
  });
});

describe('production guard', () => {
  it('refuses to start under NODE_ENV=production', async () => {
    const { startStripeEmulator } = await import('../../src/stripe-emulator');
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await expect(startStripeEmulator()).rejects.toThrow(/never run in production/);
    } finally {
      process.env.NODE_ENV = previous;
    }
  });

  it('stripeFor works against a second emulator independently', async () => {
    const { emulator } = await startEmulator();
    try {
      const other = stripeFor(emulator);
      expect((await other.events.list()).data).toHaveLength(0);
    } finally {
      await emulator.close();
    }
  });
});
