/** Signing and delivering webhook events as Stripe does: one at a time, in creation order, retried briefly. */
import { createHmac } from 'node:crypto';
import type Stripe from 'stripe';
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
}

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
  private readonly queue: Stripe.Event[] = [];
  private running: Promise<void> | null = null;
  private closed = false;
  private readonly inFlight = new Set<AbortController>();
  private readonly retryDelaysMs: number[];

  constructor(
    private readonly store: EmulatorStore,
    private readonly logger: EmulatorLogger,
    opts: { target: WebhookTarget | null; autoDeliver: boolean; retryDelaysMs?: number[] },
  ) {
    this.target = opts.target;
    this.autoDeliver = opts.autoDeliver;
    this.retryDelaysMs = opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    store.onEvent((event) => this.enqueue(event));
  }

  setTarget(target: WebhookTarget | null): void {
    this.target = target;
  }

  setAutoDeliver(on: boolean): void {
    this.autoDeliver = on;
  }

  /** Signs now and POSTs once. Throws on network errors. */
  async deliver(event: Stripe.Event): Promise<{ status: number; body: string }> {
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
      const body = await res.text();
      if (res.status >= 200 && res.status < 300) this.markDelivered(event);
      return { status: res.status, body };
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
  }

  /** Resolves once every queued event has been delivered or given up on. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    for (const controller of this.inFlight) controller.abort(new Error('emulator closed'));
  }

  private enqueue(event: Stripe.Event): void {
    if (this.closed || !this.autoDeliver || !this.target) return;
    event.pending_webhooks = 1;
    this.queue.push(event);
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
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
    const attempts = this.retryDelaysMs.length + 1;
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt++) {
      let status: number | null = null;
      let error: string | undefined;
      try {
        status = (await this.deliver(event)).status;
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      const ok = status !== null && status >= 200 && status < 300;
      const outcome = ok ? 'delivered' : attempt < attempts ? 'retrying' : 'gave_up';
      this.log.push({ eventId: event.id, eventType: event.type, attempt, at: Math.floor(Date.now() / 1000), status, ...(error && { error }), outcome });
      if (ok) return;
      this.logger.warn({ eventId: event.id, eventType: event.type, attempt, status, error }, `stripe emulator: webhook delivery ${outcome === 'gave_up' ? 'gave up' : 'failed, retrying'}`);
      if (outcome === 'retrying') await sleep(this.retryDelaysMs[attempt - 1]!);
    }
  }

  private markDelivered(event: Stripe.Event): void {
    this.store.delivered.set(event.id, true);
    event.pending_webhooks = 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
