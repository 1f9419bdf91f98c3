/**
 * Chaotic webhook delivery: what a busy Stripe account looks like from the endpoint. Events go out
 * concurrently, in no particular order, some more than once, and failed attempts are retried on Stripe's
 * exponential schedule (up to 3 days), compressed to well under a second. Every random choice comes from
 * a PRNG seeded by (seed, event number, copy), so one seed gives one plan whatever the timing.
 */
import type Stripe from 'stripe';

export interface ChaoticDeliveryOptions {
  mode: 'chaotic';
  /** Same seed, same plan (delays, duplicates, simulated failures). Default 1. */
  seed?: number;
  /** Deliveries in flight at once. Default 8. */
  concurrency?: number;
  /** Share of events delivered more than once (as Stripe may). Default 0.3. */
  duplicateRate?: number;
  /** Most extra copies of a duplicated event. Default 2. */
  maxExtraCopies?: number;
  /** Each copy waits a random 0..reorderWindowMs before its first attempt, so later events overtake earlier ones. Default 25. */
  reorderWindowMs?: number;
  /**
   * Share of attempts that fail in transit: half never reach the endpoint (connection failed), half reach it
   * but the answer is lost (timeout), so the endpoint sees that event again on retry. Default 0.2.
   */
  failureRate?: number;
  /** Stripe's whole retry schedule (about 3 days) compressed into this many ms. Default 300. */
  retryScheduleMs?: number;
  /**
   * Share of events never delivered at all (an endpoint that was down for the whole retry window, or disabled):
   * they stay `delivery_success: false` for reconciliation to find. Default 0.
   */
  dropRate?: number;
}

/**
 * Stripe's live mode retries for up to 3 days with exponential backoff (the intervals are not published):
 * modelled as 1 min × 3^k (1 min, 3 min, 9 min … 36 h), 8 retries, 9 attempts in all, about 55 hours.
 */
export const STRIPE_RETRY_DELAYS_S = [60, 180, 540, 1_620, 4_860, 14_580, 43_740, 131_220];

export type AttemptResult = 'ok' | 'failed';

/** What the scheduler needs from the delivery machinery. */
export interface ChaoticHost {
  /** One attempt; `simulate` forces a failure before sending or after the endpoint answered. */
  attempt(event: Stripe.Event, info: { copy: number; attempt: number; attempts: number; simulate: 'none' | 'connection' | 'lost_response' }): Promise<AttemptResult>;
  isClosed(): boolean;
}

/** mulberry32: small, fast, good enough to plan deliveries. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function mix(...parts: number[]): number {
  let h = 2_166_136_261;
  for (const p of parts) h = Math.imul(h ^ (p >>> 0), 16_777_619) >>> 0;
  return h;
}

export class ChaoticScheduler {
  private readonly opts: Required<Omit<ChaoticDeliveryOptions, 'mode'>>;
  private readonly scale: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly timers = new Map<NodeJS.Timeout, () => void>();

  constructor(
    private readonly host: ChaoticHost,
    options: ChaoticDeliveryOptions,
  ) {
    this.opts = {
      seed: options.seed ?? 1,
      concurrency: Math.max(1, options.concurrency ?? 8),
      duplicateRate: options.duplicateRate ?? 0.3,
      maxExtraCopies: Math.max(1, options.maxExtraCopies ?? 2),
      reorderWindowMs: Math.max(0, options.reorderWindowMs ?? 25),
      failureRate: Math.min(0.9, Math.max(0, options.failureRate ?? 0.2)),
      retryScheduleMs: Math.max(1, options.retryScheduleMs ?? 300),
      dropRate: Math.min(1, Math.max(0, options.dropRate ?? 0)),
    };
    this.scale = this.opts.retryScheduleMs / (STRIPE_RETRY_DELAYS_S.reduce((a, b) => a + b, 0) * 1000);
  }

  /** How many copies of event number `sequence` go out (0: dropped); each copy then runs on its own. */
  copiesOf(sequence: number): number {
    const random = seededRandom(mix(this.opts.seed, sequence, 0));
    const duplicated = random() < this.opts.duplicateRate;
    const extra = 1 + Math.floor(random() * this.opts.maxExtraCopies);
    if (random() < this.opts.dropRate) return 0;
    return duplicated ? 1 + extra : 1;
  }

  /** Runs one copy to its end: delivered, or given up after Stripe's last retry. */
  async run(event: Stripe.Event, sequence: number, copy: number): Promise<void> {
    const random = seededRandom(mix(this.opts.seed, sequence, copy));
    await this.sleep(random() * this.opts.reorderWindowMs);
    const attempts = STRIPE_RETRY_DELAYS_S.length + 1;
    for (let attempt = 1; attempt <= attempts && !this.host.isClosed(); attempt++) {
      const roll = random();
      const simulate = roll < this.opts.failureRate / 2 ? 'connection' : roll < this.opts.failureRate ? 'lost_response' : 'none';
      // Stripe adds jitter to its backoff; so do we (±25%).
      const jitter = 0.75 + random() * 0.5;
      await this.acquire();
      if (this.host.isClosed()) return this.release();
      let result: AttemptResult;
      try {
        result = await this.host.attempt(event, { copy, attempt, attempts, simulate });
      } finally {
        this.release();
      }
      if (result === 'ok' || attempt === attempts) return;
      await this.sleep(STRIPE_RETRY_DELAYS_S[attempt - 1]! * 1000 * this.scale * jitter);
    }
  }

  /** Cancels every pending wait (their copies then stop, as the host is closed). */
  close(): void {
    for (const [timer, resolve] of this.timers) {
      clearTimeout(timer);
      resolve();
    }
    this.timers.clear();
    for (const wake of this.waiting.splice(0)) wake();
  }

  private sleep(ms: number): Promise<void> {
    if (this.host.isClosed()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.set(timer, resolve);
    });
  }

  private async acquire(): Promise<void> {
    while (this.active >= this.opts.concurrency && !this.host.isClosed()) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active++;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }
}
