/**
 * Kettle's built-in Stripe emulator: an HTTP server the real stripe-node SDK talks to, with in-memory state (kept
 * in a file across restarts when given `stateFile`), a hosted test-checkout page and signed webhook delivery.
 * Used by the offline demo and the test suite.
 * Never in production.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type Stripe from 'stripe';
import { advanceSubscription as advance, retrySubscription as retry, type BillingControlOptions } from './billing';
import { pay as payCheckout, type CheckoutCard, type PayResult } from './checkout';
import type { EmulatorContext } from './context';
import { silentLogger, type EmulatorLogger } from './logger';
import { disputeCharge as dispute } from './disputes';
import { failRefund as failRefundNow, type RefundFailureReason } from './refunds';
import { createEmulatorApp } from './server';
import { persistStore, pointSessionUrlsAt } from './persistence';
import { EmulatorStore } from './store';
import { WebhookDelivery, type DeliveryAttempt, type DeliveryOptions, type WebhookTarget } from './webhooks';

export type { BillingControlOptions } from './billing';
export type { CardInput } from './cards';
export type { CheckoutCard, PayResult } from './checkout';
export type { ChaoticDeliveryOptions } from './chaotic-delivery';
export type { RefundFailureReason } from './refunds';
export type { DeliveryAttempt, DeliveryOptions, OrderedDeliveryOptions } from './webhooks';
export type { EmulatorLogger } from './logger';
export { signatureHeader } from './webhooks';

export interface StripeEmulatorOptions {
  host?: string; // default '127.0.0.1'
  port?: number; // default 0 (random free port)
  publicUrl?: string; // base URL browsers use for hosted pages; default `http://${host}:${port}`
  webhook?: { url: string; secret: string }; // where to deliver signed events (can also be set later)
  autoDeliver?: boolean; // default true: each new event is queued for delivery to the webhook
  logger?: EmulatorLogger; // pino-compatible; silent by default
  /** Ordered mode's waits between delivery attempts; default [200, 1000] (3 attempts). Same as delivery.retryDelaysMs. */
  webhookRetryDelaysMs?: number[];
  /**
   * How webhooks go out. Default `{ mode: 'ordered' }`: one at a time, in creation order. `{ mode: 'chaotic', seed }`:
   * concurrent, reordered, duplicated, with failures retried on Stripe's schedule compressed (chaotic-delivery.ts).
   */
  delivery?: DeliveryOptions;
  accountName?: string; // business name on the hosted pages; default 'Kettle'
  /**
   * A JSON file that keeps the state across restarts: loaded at start when it exists, saved shortly after each
   * change and on close() (persistence.ts). Default: none, the state lives in memory only.
   */
  stateFile?: string;
}

export interface StripeEmulator {
  readonly url: string;
  readonly events: Stripe.Event[];
  /** Every webhook delivery attempt, oldest first. */
  readonly deliveryLog: readonly DeliveryAttempt[];
  setWebhook(target: { url: string; secret: string } | null): void;
  setAutoDeliver(on: boolean): void;
  /** Switches the delivery mode for events from now on (deliveries under way finish in their own mode). */
  setDelivery(options: DeliveryOptions): void;
  deliver(event: Stripe.Event): Promise<{ status: number; body: string }>;
  idle(): Promise<void>;
  /** Pays a Checkout Session as the hosted page does; `exp_month`/`exp_year` default to December, three years on. */
  pay(sessionId: string, card: CheckoutCard): Promise<PayResult>;
  /** Renews: bills the next period now (`card` replaces the saved card first). */
  advanceSubscription(subscriptionId: string, opts?: BillingControlOptions): Promise<Stripe.Invoice>;
  /** The next Smart Retry of the subscription's open invoice; the fourth failed attempt cancels the subscription. */
  retrySubscription(subscriptionId: string, opts?: BillingControlOptions): Promise<Stripe.Invoice>;
  disputeCharge(chargeId: string, outcome: 'lost' | 'won'): Promise<Stripe.Dispute>;
  /** A succeeded refund that the card network sends back: status failed, the money returns to the charge. */
  failRefund(refundId: string, reason?: RefundFailureReason): Promise<Stripe.Refund>;
  close(): Promise<void>;
}

export async function startStripeEmulator(opts: StripeEmulatorOptions = {}): Promise<StripeEmulator> {
  if (process.env.NODE_ENV === 'production') {
    throw new Error('The Stripe emulator must never run in production (NODE_ENV=production). Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET to use Stripe.');
  }
  const host = opts.host ?? '127.0.0.1';
  const logger = opts.logger ?? silentLogger;
  const store = new EmulatorStore();
  const persistence = opts.stateFile ? await persistStore(store, opts.stateFile, logger) : null;
  const webhooks = new WebhookDelivery(store, logger, {
    target: opts.webhook ? { ...opts.webhook } : null,
    autoDeliver: opts.autoDeliver ?? true,
    delivery: opts.delivery ?? { mode: 'ordered', retryDelaysMs: opts.webhookRetryDelaysMs },
  });
  const ctx: EmulatorContext = { store, webhooks, logger, publicUrl: '', accountName: opts.accountName ?? 'Kettle' };
  const app = createEmulatorApp(ctx);

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, host);
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  // Listening on every interface: the SDK still reaches us on loopback.
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const urlHost = reachable.includes(':') ? `[${reachable}]` : reachable;
  const url = `http://${urlHost}:${port}`;
  ctx.publicUrl = (opts.publicUrl ?? url).replace(/\/+$/, '');
  if (persistence) pointSessionUrlsAt(store, ctx.publicUrl);
  logger.info({ url, publicUrl: ctx.publicUrl }, 'stripe emulator listening');

  let closed: Promise<void> | null = null;
  return {
    url,
    events: store.events,
    deliveryLog: webhooks.log,
    setWebhook: (target: WebhookTarget | null) => webhooks.setTarget(target ? { ...target } : null),
    setAutoDeliver: (on) => webhooks.setAutoDeliver(on),
    setDelivery: (options) => webhooks.setDelivery(options),
    deliver: (event) => webhooks.deliver(event),
    idle: () => webhooks.idle(),
    pay: (sessionId, card) => payCheckout(ctx, sessionId, card),
    advanceSubscription: async (subscriptionId, o) => advance(store, subscriptionId, o),
    retrySubscription: async (subscriptionId, o) => retry(store, subscriptionId, o),
    disputeCharge: async (chargeId, outcome) => dispute(store, chargeId, outcome),
    failRefund: async (refundId, reason) => failRefundNow(store, refundId, reason),
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        webhooks.close();
        server.close((err) => (err ? reject(err) : resolve()));
        // stripe-node keeps connections alive: drop them so close() does not wait for their timeout.
        server.closeAllConnections();
      }).finally(() => persistence?.close());
      return closed;
    },
  };
}
