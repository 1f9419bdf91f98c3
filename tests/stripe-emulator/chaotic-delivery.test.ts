import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import type { ChaoticDeliveryOptions, DeliveryAttempt, StripeEmulator } from '../../src/stripe-emulator';
import { oneOffGift, startEmulator, startWebhookReceiver } from './helpers';

const SECRET = 'whsec_chaos';

/** Creates `n` customers (one customer.created event each) and waits for every delivery, copy and retry. */
async function createCustomers(emulator: StripeEmulator, stripe: Stripe, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await stripe.customers.create({ email: `donor${i}@example.org` });
  await emulator.idle();
}

/** The plan as it played out, by event number rather than id: the same seed must give the same plan. */
function planOf(emulator: StripeEmulator): string[] {
  const index = new Map(emulator.events.map((e, i) => [e.id, i]));
  return emulator.deliveryLog
    .map((d) => `${index.get(d.eventId)}/${d.copy}/${d.attempt}/${d.outcome}/${d.error?.startsWith('simulated') ? 'sim' : ''}`)
    .sort();
}

/** Creates `n` customers under `delivery`; `inspect` runs before the emulator closes. */
async function chaoticRun(
  delivery: ChaoticDeliveryOptions,
  n = 30,
  status: (n: number) => number = () => 200,
  inspect: (stripe: Stripe) => Promise<void> = async () => {},
) {
  const receiver = await startWebhookReceiver(status);
  const { emulator, stripe } = await startEmulator({ webhook: { url: receiver.url, secret: SECRET }, delivery });
  try {
    await createCustomers(emulator, stripe, n);
    const received = receiver.received.map((r) => stripe.webhooks.constructEvent(r.body, r.signature, SECRET));
    await inspect(stripe);
    return { received, events: [...emulator.events], log: [...emulator.deliveryLog], plan: planOf(emulator) };
  } finally {
    await emulator.close();
    await receiver.close();
  }
}

function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

describe('chaotic webhook delivery', () => {
  it('delivers every event, signed, some more than once, not in creation order', async () => {
    const receiver = await startWebhookReceiver();
    const { emulator, stripe } = await startEmulator({ webhook: { url: receiver.url, secret: SECRET }, delivery: { mode: 'chaotic', seed: 7, duplicateRate: 0.5, failureRate: 0 } });
    try {
      // Each payment emits its four events at one instant: their seeded delays alone decide the order they leave in.
      for (let i = 0; i < 5; i++) await emulator.pay((await stripe.checkout.sessions.create(oneOffGift())).id, { number: '4242424242424242' });
      await emulator.idle();
      const received = receiver.received.map((r) => stripe.webhooks.constructEvent(r.body, r.signature, SECRET));
      const copies = countBy(received, (e) => e.id);
      expect(new Set(copies.keys())).toEqual(new Set(emulator.events.map((e) => e.id)));
      expect([...copies.values()].some((c) => c > 1)).toBe(true);
      const firstArrival = [...new Set(received.map((e) => e.id))];
      expect(firstArrival).not.toEqual(emulator.events.map((e) => e.id));
      expect(emulator.deliveryLog.every((d) => d.outcome === 'delivered')).toBe(true);
      expect(emulator.events.every((e) => e.pending_webhooks === 0)).toBe(true);
    } finally {
      await emulator.close();
      await receiver.close();
    }
  });

  it('delivers concurrently, never more than `concurrency` at once', async () => {
    // The endpoint holds its answers until two deliveries are in flight, then answers everything.
    let inFlight = 0;
    let most = 0;
    let holding = true;
    const held: (() => void)[] = [];
    let twoInFlight!: () => void;
    const reachedTwo = new Promise<void>((resolve) => (twoInFlight = resolve));
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        inFlight++;
        most = Math.max(most, inFlight);
        const answer = () => {
          inFlight--;
          res.end('ok');
        };
        if (!holding) return answer();
        held.push(answer);
        if (inFlight === 2) twoInFlight();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const { emulator, stripe } = await startEmulator({
      webhook: { url: `http://127.0.0.1:${port}/hook`, secret: SECRET },
      delivery: { mode: 'chaotic', seed: 3, concurrency: 2, reorderWindowMs: 0, duplicateRate: 0, failureRate: 0 },
    });
    try {
      const session = await stripe.checkout.sessions.create(oneOffGift());
      const paying = emulator.pay(session.id, { number: '4242424242424242' }); // four events at once
      await reachedTwo;
      holding = false;
      for (const answer of held.splice(0)) answer();
      await paying;
      await emulator.idle();
      expect(emulator.deliveryLog.filter((d) => d.outcome === 'delivered')).toHaveLength(4);
      expect(most).toBe(2);
    } finally {
      await emulator.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('retries failed attempts on Stripe schedule: lost answers make the endpoint see the event again', async () => {
    const { received, events, log } = await chaoticRun({ mode: 'chaotic', seed: 11, duplicateRate: 0, failureRate: 0.5 });
    expect(new Set(received.map((e) => e.id))).toEqual(new Set(events.map((e) => e.id)));
    const simulated = log.filter((d) => d.error?.startsWith('simulated'));
    expect(simulated.some((d) => d.error!.includes('connection failed'))).toBe(true);
    expect(simulated.some((d) => d.error!.includes('answer was lost'))).toBe(true);
    expect(log.some((d) => d.outcome === 'retrying')).toBe(true);
    // Every event ends delivered: a lost answer is retried though the endpoint had it.
    const delivered = new Set(log.filter((d) => d.outcome === 'delivered').map((d) => d.eventId));
    expect(delivered).toEqual(new Set(events.map((e) => e.id)));
  });

  it('gives up after 9 attempts (Stripe: 3 days of exponential backoff), and idle() still resolves', async () => {
    const { events, log, received } = await chaoticRun({ mode: 'chaotic', seed: 5, duplicateRate: 0, failureRate: 0, retryScheduleMs: 50 }, 2, () => 503);
    expect(received).toHaveLength(18);
    for (const event of events) {
      const attempts: DeliveryAttempt[] = log.filter((d) => d.eventId === event.id);
      expect(attempts.map((d) => d.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(attempts.at(-1)!.outcome).toBe('gave_up');
      expect(event.pending_webhooks).toBe(1);
    }
  });

  it('plays the same plan for the same seed, and another for another seed', async () => {
    const options = { mode: 'chaotic', duplicateRate: 0.4, failureRate: 0.3 } as const;
    const a = await chaoticRun({ ...options, seed: 42 }, 15);
    const b = await chaoticRun({ ...options, seed: 42 }, 15);
    const c = await chaoticRun({ ...options, seed: 43 }, 15);
    expect(a.plan).toEqual(b.plan);
    expect(c.plan).not.toEqual(a.plan);
  });

  it('can be switched on for a running emulator, and back to ordered', async () => {
    const receiver = await startWebhookReceiver();
    const { emulator, stripe } = await startEmulator({ webhook: { url: receiver.url, secret: SECRET } });
    try {
      emulator.setDelivery({ mode: 'chaotic', seed: 9, duplicateRate: 1, failureRate: 0 });
      await createCustomers(emulator, stripe, 3);
      expect(receiver.received.length).toBeGreaterThanOrEqual(6);
      emulator.setDelivery({ mode: 'ordered' });
      const before = receiver.received.length;
      await createCustomers(emulator, stripe, 3);
      const after = receiver.received.slice(before).map((r) => (JSON.parse(r.body) as Stripe.Event).id);
      expect(after).toEqual(emulator.events.slice(3).map((e) => e.id));
    } finally {
      await emulator.close();
      await receiver.close();
    }
  });

  it('drops a share of events for good when asked (dropRate), leaving them for reconciliation to find', async () => {
    let undelivered: string[] = [];
    const { received, events, log } = await chaoticRun({ mode: 'chaotic', seed: 13, dropRate: 1 / 3, duplicateRate: 0, failureRate: 0 }, 30, () => 200, async (stripe) => {
      undelivered = (await stripe.events.list({ delivery_success: false, limit: 100 })).data.map((e) => e.id);
    });
    const dropped = log.filter((d) => d.error?.includes('dropped'));
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.every((d) => d.outcome === 'gave_up')).toBe(true);
    const droppedIds = new Set(dropped.map((d) => d.eventId));
    expect(new Set(received.map((e) => e.id))).toEqual(new Set(events.filter((e) => !droppedIds.has(e.id)).map((e) => e.id)));
    expect(undelivered.sort()).toEqual([...droppedIds].sort());
  });
});
