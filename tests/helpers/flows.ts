import type { Express } from 'express';
import request from 'supertest';
import Stripe from 'stripe';
import type { Campaign } from '../../src/campaigns/campaign.entity';
import { WEBHOOK_SECRET, type TestKettle } from './kettle';

export const CARDS = {
  visa: '4242424242424242',
  declined: '4000000000000002',
  insufficientFunds: '4000000000009995',
  failsOnNextCharge: '4000000000000341',
} as const;

export interface StartedCheckout {
  sessionId: string;
  checkoutUrl: string;
  cookie: string[];
}

/** Submits the campaign's donate form as a browser would and follows nothing: returns the Checkout Session. */
export async function startDonation(kettle: TestKettle, campaign: Campaign, form: Record<string, string>): Promise<StartedCheckout> {
  const res = await request(kettle.app)
    .post(`/campaigns/${campaign.slug}/donate`)
    .type('form')
    .send({ email: 'donor@example.org', frequency: 'once', ...form });
  if (res.status !== 303) throw new Error(`donate answered ${res.status}: ${res.text.slice(0, 300)}`);
  const checkoutUrl = res.headers.location;
  const sessionId = checkoutUrl.split('/').pop()!;
  const cookie = res.headers['set-cookie'] as unknown as string[];
  return { sessionId, checkoutUrl, cookie };
}

/** Donates and pays on the emulator's checkout, then waits until its webhooks were delivered. */
export async function donateAndPay(
  kettle: TestKettle,
  campaign: Campaign,
  form: Record<string, string>,
  card: string = CARDS.visa,
): Promise<StartedCheckout> {
  const started = await startDonation(kettle, campaign, form);
  const result = await kettle.emulator.pay(started.sessionId, { number: card, email: form.email ?? 'donor@example.org', name: form.name });
  if (!result.ok) throw new Error(`payment declined: ${result.message}`);
  await kettle.settled();
  return started;
}

/** Runs `act` with webhook delivery off and returns the events Stripe created meanwhile, for the test to deliver. */
export async function undeliveredEventsOf(kettle: TestKettle, act: () => Promise<unknown>): Promise<Stripe.Event[]> {
  kettle.emulator.setAutoDeliver(false);
  const from = kettle.emulator.events.length;
  await act();
  return kettle.emulator.events.slice(from);
}

export function eventOfType(events: Stripe.Event[], type: string): Stripe.Event {
  const event = events.find((e) => e.type === type);
  if (!event) throw new Error(`no ${type} event among ${events.map((e) => e.type).join(', ')}`);
  return event;
}

/** A Stripe-Signature header for the payload, made as Stripe makes it. */
export const signPayload = (payload: string, opts: { secret?: string; timestamp?: number } = {}) =>
  Stripe.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? WEBHOOK_SECRET, timestamp: opts.timestamp });

/** Posts a payload to an app's webhook route with the given signature header. */
export const postWebhook = (app: Express, payload: string, header: string) =>
  request(app).post('/stripe/webhook').set('Content-Type', 'application/json').set('Stripe-Signature', header).send(payload);

/** Posts an event signed as Stripe signs it (stored only: the inbox worker applies it). */
export const postEvent = (app: Express, event: Stripe.Event) => {
  const payload = JSON.stringify(event, null, 2);
  return postWebhook(app, payload, signPayload(payload));
};

/**
 * Delivers an event as Stripe would and waits until Kettle has applied it: the route stores it,
 * the inbox worker applies everything due.
 */
export async function deliverEvent(kettle: TestKettle, event: Stripe.Event) {
  const res = await postEvent(kettle.app, event);
  await kettle.webhookWorker.drain();
  return res;
}

/** The inbox row of an event. */
export async function storedEvent(kettle: TestKettle, eventId: string) {
  const [row] = await kettle.dataSource.query(
    `SELECT status, attempts, last_error, outcome_reason, awaiting, next_attempt_at > now() AS waiting FROM stripe_events WHERE id = $1`,
    [eventId],
  );
  return row as { status: string; attempts: number; last_error: string | null; outcome_reason: string | null; awaiting: string | null; waiting: boolean } | undefined;
}

/** Runs `act` with the app's own inbox worker stopped, so only the test's workers apply events. */
export async function withAppWorkerStopped(kettle: TestKettle, act: () => Promise<void>) {
  await kettle.webhookWorker.stop();
  try {
    await act();
  } finally {
    kettle.webhookWorker.start();
  }
}
