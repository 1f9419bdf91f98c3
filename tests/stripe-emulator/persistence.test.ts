import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EmulatorLogger, StripeEmulator, StripeEmulatorOptions } from '../../src/stripe-emulator';
import { monthlyGift, oneOffGift, startEmulator, startWebhookReceiver, subscribe } from './helpers';

let dir: string;
let stateFile: string;
const running: StripeEmulator[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kettle-emulator-state-'));
  stateFile = path.join(dir, 'stripe-emulator.json');
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
  await rm(dir, { recursive: true, force: true });
});

/** An emulator on the test's state file (unless told otherwise), closed after the test. */
async function start(opts: StripeEmulatorOptions = { stateFile }) {
  const started = await startEmulator(opts);
  running.push(started.emulator);
  return started;
}

function recordingLogger() {
  const warnings: { obj: object; msg?: string }[] = [];
  const logger: EmulatorLogger = { info() {}, warn: (obj, msg) => warnings.push({ obj, msg }) };
  return { logger, warnings };
}

describe('an emulator restarted on the same state file', () => {
  it('still has the customers and subscriptions, which can be changed, renewed and canceled', async () => {
    const first = await start();
    const product = await first.stripe.products.create({ name: 'Monthly gift' });
    const { session, subscription } = await subscribe(first, product.id);
    const customer = await first.stripe.customers.retrieve(session.customer as string);
    const eventIdsBefore = first.emulator.events.map((e) => e.id);
    await first.emulator.close();

    const { emulator, stripe } = await start();
    expect(await stripe.customers.retrieve(customer.id)).toEqual(customer);
    expect(await stripe.subscriptions.retrieve(subscription.id)).toEqual(subscription);
    expect(await stripe.subscriptions.list({ customer: customer.id })).toMatchObject({ data: [{ id: subscription.id }] });

    const item = subscription.items.data[0]!;
    const updated = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: item.id, price_data: { currency: 'usd', product: product.id, unit_amount: 2500, recurring: { interval: 'month' } } }],
      proration_behavior: 'none',
    });
    expect(updated.items.data[0]!.price.unit_amount).toBe(2500);

    // The saved card is still known: the renewal charges it, at the new amount.
    const renewal = await emulator.advanceSubscription(subscription.id);
    expect(renewal).toMatchObject({ status: 'paid', billing_reason: 'subscription_cycle', amount_paid: 2500 });

    const events = await stripe.events.list({ limit: 100 });
    const listedIds = events.data.map((e) => e.id);
    expect(listedIds).toEqual(expect.arrayContaining(eventIdsBefore));
    expect(events.data[0]).toMatchObject({ type: 'customer.subscription.updated', data: { object: { id: subscription.id } } });
    expect(new Set(listedIds).size).toBe(listedIds.length);

    const canceled = await stripe.subscriptions.cancel(subscription.id);
    expect(canceled.status).toBe('canceled');
    await emulator.close();

    const third = await start();
    expect((await third.stripe.subscriptions.retrieve(subscription.id)).status).toBe('canceled');
    expect((await third.stripe.invoices.list({ subscription: subscription.id })).data.map((i) => i.amount_paid)).toEqual([2500, 1000]);
  });

  it('writes the file atomically, readable by its owner only, and saves soon after a change without waiting for close', async () => {
    const { emulator, stripe } = await start();
    const customer = await stripe.customers.create({ email: 'ada@example.org' });
    await expect.poll(async () => (await readFile(stateFile, 'utf8').catch(() => '')).includes(customer.id)).toBe(true);

    const { mode } = await stat(stateFile);
    expect(mode & 0o777).toBe(0o600);
    await emulator.close();
    expect(await readdir(dir)).toEqual(['stripe-emulator.json']); // no temporary file left behind
  });

  it('keeps which events were never delivered, and does not send them again', async () => {
    const receiver = await startWebhookReceiver(() => 500);
    try {
      const first = await start({ stateFile, webhook: { url: receiver.url, secret: 'whsec_test' }, webhookRetryDelaysMs: [] });
      const customer = await first.stripe.customers.create({ email: 'grace@example.org' });
      await first.emulator.idle();
      const attempts = receiver.received.length;
      expect(attempts).toBe(1);
      await first.emulator.close();

      const second = await start({ stateFile, webhook: { url: receiver.url, secret: 'whsec_test' } });
      const undelivered = await second.stripe.events.list({ delivery_success: false });
      expect(undelivered.data).toMatchObject([{ type: 'customer.created', data: { object: { id: customer.id } } }]);
      await second.emulator.idle();
      expect(receiver.received.length).toBe(attempts);
    } finally {
      await receiver.close();
    }
  });

  it('points the hosted page of an open Checkout Session at where the new emulator listens', async () => {
    const first = await start();
    const product = await first.stripe.products.create({ name: 'Monthly gift' });
    const session = await first.stripe.checkout.sessions.create(monthlyGift(product.id));
    await first.emulator.close();

    const { emulator, stripe } = await start();
    const reloaded = await stripe.checkout.sessions.retrieve(session.id);
    expect(reloaded.url).toBe(`${emulator.url}/checkout/${session.id}`);
    expect((await fetch(reloaded.url!)).status).toBe(200);
    expect(await emulator.pay(session.id, { number: '4242 4242 4242 4242' })).toMatchObject({ ok: true });
  });

  it('never writes a real card number typed into the test checkout', async () => {
    const { emulator, stripe } = await start();
    // A one-off payment keeps the declined card (as a failed charge's PaymentMethod); the number must stay in memory.
    const session = await stripe.checkout.sessions.create(oneOffGift());
    const result = await emulator.pay(session.id, { number: '4111 1111 1111 1111' });
    expect(result).toMatchObject({ ok: false, declineCode: 'test_mode_live_card' });
    expect(await emulator.pay(session.id, { number: '4242 4242 4242 4242' })).toMatchObject({ ok: true });
    await emulator.close();

    const saved = await readFile(stateFile, 'utf8');
    expect(JSON.parse(saved).maps.cardNumbers.map(([, number]: [string, string]) => number)).toEqual(['4242424242424242']);
    expect(saved.includes('4111111111111111')).toBe(false);
  });
});

describe('a state file that cannot be used', () => {
  it.each([
    ['not JSON', '{"format": "kettle-stripe-emulator-state", "maps": {'],
    ['JSON of another shape', JSON.stringify({ customers: [] })],
    ['a later format version', JSON.stringify({ format: 'kettle-stripe-emulator-state', version: 99 })],
  ])('%s: moved aside with a warning, and the emulator starts empty', async (_what, content) => {
    await writeFile(stateFile, content);
    const { logger, warnings } = recordingLogger();
    const { stripe, emulator } = await start({ stateFile, logger });

    expect((await stripe.customers.list()).data).toEqual([]);
    const files = await readdir(dir);
    const movedAside = files.find((f) => f.startsWith('stripe-emulator.json.corrupt-'));
    expect(movedAside).toBeDefined();
    expect(await readFile(path.join(dir, movedAside!), 'utf8')).toBe(content);
    expect(warnings).toMatchObject([{ obj: { file: stateFile, movedTo: path.join(dir, movedAside!) } }]);

    // From here on the emulator saves to the file as usual.
    const customer = await stripe.customers.create({ email: 'new@example.org' });
    await emulator.close();
    expect(await readFile(stateFile, 'utf8')).toContain(customer.id);
  });
});

describe('without a state file', () => {
  it('keeps everything in memory: a new emulator starts empty', async () => {
    const first = await start({});
    await first.stripe.customers.create({ email: 'ada@example.org' });
    await first.emulator.close();

    const second = await start({});
    expect((await second.stripe.customers.list()).data).toEqual([]);
  });
});
