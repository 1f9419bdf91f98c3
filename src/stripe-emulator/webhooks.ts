/**
 * Signing and delivering webhook events. Two modes: `ordered` (the default: one at a time, in creation order,
 * retried briefly; predictable for tests of one flow) and `chaotic` (concurrent, reordered, duplicated, retried
 * on Stripe's schedule compressed: see chaotic-delivery.ts).
 */
import { createHmac } from 'node:crypto';
import type Stripe from 'stripe';
import { ChaoticScheduler, type AttemptResult, type ChaoticDeliveryOptions } from './chaotic-delivery';
import type { EmulatorLogger } from './logger';
import type { EmulatorStore } from './store';

export interface WebhookTarget {
  url: string;
  secret: string;
}

export interface DeliveryAttempt {
  eventId: string;
  eventType: string;
  attempt: number;
  at: number; // unix seconds
  status: number | null; // null: network error
  error?: string;
  outcome: 'delivered' | 'retrying' | 'gave_up';
  /** Chaotic mode: which copy of the event (1 = the first; more when Stripe delivers it again). */
  copy?: number;
}

export interface OrderedDeliveryOptions {
  mode: 'ordered';
  /** Waits between attempts; default [200, 1000] (3 attempts). */
  retryDelaysMs?: number[];
}

export type DeliveryOptions = OrderedDeliveryOptions | ChaoticDeliveryOptions;

/** `Stripe-Signature` header value: `t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`. */
export function signatureHeader(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const signature = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${signature}`;
}

const DEFAULT_RETRY_DELAYS_MS = [200, 1000];
const DELIVERY_TIMEOUT_MS = 10_000;

export class WebhookDelivery {
  readonly log: DeliveryAttempt[] = [];
  private target: WebhookTarget | null;
  private autoDeliver: boolean;
  private mode: DeliveryOptions;
  private chaos: ChaoticScheduler | null = null;
  private readonly schedulers: ChaoticScheduler[] = [];
  private readonly queue: Stripe.Event[] = [];
  private running: Promise<void> | null = null;
  /** Chaotic copies still running (delivering, waiting to retry, or waiting their turn). */
  private readonly pending = new Set<Promise<void>>();
  private closed = false;
  private readonly inFlight = new Set<AbortController>();
  /** Events handed to delivery so far: the event's number in the chaotic plan. */
  private sequence = 0;

  constructor(
    private readonly store: EmulatorStore,
    private readonly logger: EmulatorLogger,
    opts: { target: WebhookTarget | null; autoDeliver: boolean; delivery: DeliveryOptions },
  ) {
    this.target = opts.target;
    this.autoDeliver = opts.autoDeliver;
    this.mode = opts.delivery;
    this.setDelivery(opts.delivery);
    store.onEvent((event) => this.enqueue(event));
  }

  setTarget(target: WebhookTarget | null): void {
    this.target = target;
  }

  setAutoDeliver(on: boolean): void {
    this.autoDeliver = on;
  }

  /** Switches mode for events from now on; deliveries under way finish in their own mode. */
  setDelivery(options: DeliveryOptions): void {
    this.mode = options;
    // A previous scheduler keeps running its copies to the end: idle() waits for them through `pending`.
    this.chaos = options.mode === 'chaotic' ? new ChaoticScheduler({ attempt: (e, info) => this.chaoticAttempt(e, info), isClosed: () => this.closed }, options) : null;
    if (this.chaos) this.schedulers.push(this.chaos);
  }

  /** Signs now and POSTs once. Throws on network errors. */
  async deliver(event: Stripe.Event): Promise<{ status: number; body: string }> {
    const answer = await this.post(event);
    if (answer.status >= 200 && answer.status < 300) this.markDelivered(event);
    return answer;
  }

  private async post(event: Stripe.Event): Promise<{ status: number; body: string }> {
    const target = this.target;
    if (!target) throw new Error('No webhook target is set: call setWebhook({url, secret}) first');
    const payload = JSON.stringify(event, null, 2);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('webhook delivery timed out')), DELIVERY_TIMEOUT_MS);
    this.inFlight.add(controller);
    try {
      const res = await fetch(target.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json; charset=utf-8',
          'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'Stripe-Signature': signatureHeader(payload, target.secret),
        },
        body: payload,
        // Stripe does not follow redirects: a 3xx is a failed delivery (a mistyped endpoint must show).
        redirect: 'manual',
        signal: controller.signal,
      });
      return { status: res.status, body: await res.text() };
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
  }

  /** Resolves once every queued event, and every copy and retry of it, has been delivered or given up on. */
  async idle(): Promise<void> {
    while (this.running || this.pending.size > 0) {
      if (this.running) await this.running;
      if (this.pending.size > 0) await Promise.all([...this.pending]);
    }
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    for (const scheduler of this.schedulers) scheduler.close();
    for (const controller of this.inFlight) controller.abort(new Error('emulator closed'));
  }

  private enqueue(event: Stripe.Event): void {
    if (this.closed || !this.autoDeliver || !this.target) return;
    const sequence = ++this.sequence;
    if (this.chaos) return this.enqueueChaotic(this.chaos, event, sequence);
    event.pending_webhooks = 1;
    this.queue.push(event);
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  private enqueueChaotic(chaos: ChaoticScheduler, event: Stripe.Event, sequence: number): void {
    event.pending_webhooks = 1;
    const copies = chaos.copiesOf(sequence);
    if (copies === 0) this.record(event, 1, 1, null, 'simulated: dropped, never delivered');
    for (let copy = 1; copy <= copies; copy++) {
      const run: Promise<void> = chaos.run(event, sequence, copy).finally(() => this.pending.delete(run));
      this.pending.add(run);
    }
  }

  private async chaoticAttempt(
    event: Stripe.Event,
    info: { copy: number; attempt: number; attempts: number; simulate: 'none' | 'connection' | 'lost_response' },
  ): Promise<AttemptResult> {
    let status: number | null = null;
    let error: string | undefined;
    if (info.simulate === 'connection') {
      error = 'simulated: connection failed before the request was sent';
    } else {
      try {
        status = (await this.post(event)).status;
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      if (info.simulate === 'lost_response') {
        error = `simulated: the endpoint answered ${status ?? 'nothing'} but the answer was lost (timeout)`;
        status = null;
      }
    }
    const outcome = this.record(event, info.attempt, info.attempts, status, error, info.copy);
    if (outcome !== 'delivered') return 'failed';
    this.markDelivered(event);
    return 'ok';
  }

  private async drain(): Promise<void> {
    // Let the request that caused the events finish first: delivery is fire-and-forget from its point of view.
    await new Promise((resolve) => setImmediate(resolve));
    while (!this.closed && this.queue.length > 0) {
      const event = this.queue.shift()!;
      await this.deliverWithRetries(event);
    }
  }

  private async deliverWithRetries(event: Stripe.Event): Promise<void> {
    const retryDelaysMs = (this.mode.mode === 'ordered' && this.mode.retryDelaysMs) || DEFAULT_RETRY_DELAYS_MS;
    const attempts = retryDelaysMs.length + 1;
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt++) {
      let status: number | null = null;
      let error: string | undefined;
      try {
        status = (await this.deliver(event)).status;
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      const outcome = this.record(event, attempt, attempts, status, error);
      if (outcome === 'delivered') return;
      if (outcome === 'retrying') await sleep(retryDelaysMs[attempt - 1]!);
    }
  }

  private record(event: Stripe.Event, attempt: number, attempts: number, status: number | null, error: string | undefined, copy?: number): DeliveryAttempt['outcome'] {
    const ok = status !== null && status >= 200 && status < 300;
    const outcome = ok ? 'delivered' : attempt < attempts ? 'retrying' : 'gave_up';
    this.log.push({ eventId: event.id, eventType: event.type, attempt, at: Math.floor(Date.now() / 1000), status, ...(error && { error }), outcome, ...(copy !== undefined && { copy }) });
    if (!ok) {
      this.logger.warn({ eventId: event.id, eventType: event.type, attempt, status, error }, `stripe emulator: webhook delivery ${outcome === 'gave_up' ? 'gave up' : 'failed, retrying'}`);
    }
    return outcome;
  }

  private markDelivered(event: Stripe.Event): void {
    event.pending_webhooks = 0;
    this.store.markDelivered(event.id);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
