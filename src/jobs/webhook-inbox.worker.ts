import { Client } from 'pg';
import type { Logger } from '../logger';
import type { StripeInbox } from '../payments/stripe/inbox';
import { INBOX_CHANNEL } from '../payments/stripe/webhook.service';

export interface WebhookInboxWorkerOptions {
  /** Where to LISTEN for new events; null: poll only. */
  connectionString: string | null;
  /** Fallback poll: a lost notification (a dropped LISTEN connection) strands nothing longer than this. */
  pollMs?: number;
  /**
   * Batches applied at the same time by this process while a backlog lasts (default 2). Applying
   * waits mostly on round trips, so a second batch works while the first waits; they queue on a
   * campaign's totals row only from its update to the commit.
   */
  concurrency?: number;
}

/**
 * Drains the webhook inbox off the request path, in every instance: woken at once when this
 * process stores an event, by NOTIFY when another instance does, and by a poll as a fallback.
 * Instances, and the runners within one, share the work through the inbox's SKIP LOCKED claims.
 * Holds no business rules.
 */
export class WebhookInboxWorker {
  private running = false;
  private woken = false;
  private wakeUp: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private listenDone: Promise<void> = Promise.resolve();
  private listener: Client | null = null;
  /** Drains run one after another within this process: drain() queues behind the loop's work. */
  private exclusive: Promise<unknown> = Promise.resolve();
  private readonly pollMs: number;
  private stopped!: Promise<void>;
  private signalListening: () => void = () => undefined;
  /** Resolves once the LISTEN connection is up (the first time). */
  readonly listening: Promise<void> = new Promise((resolve) => { this.signalListening = resolve; });
  private signalStopped: () => void = () => undefined;

  constructor(private readonly inbox: StripeInbox, private readonly logger: Logger, private readonly opts: WebhookInboxWorkerOptions) {
    this.pollMs = opts.pollMs ?? 2_000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = new Promise((resolve) => { this.signalStopped = resolve; });
    this.loopDone = this.loop();
    if (this.opts.connectionString) this.listenDone = this.listen(this.opts.connectionString);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.signalStopped();
    this.wake();
    await this.listener?.end().catch(() => undefined);
    await Promise.all([this.loopDone, this.listenDone]);
    await this.exclusive.catch(() => undefined);
  }

  /**
   * Applies everything due now, after any drain already under way in this process, and resolves
   * with how many events it claimed once every runner found nothing left. Tests use it to wait
   * until "delivered" means "applied".
   */
  drain(keepGoing: () => boolean = () => true): Promise<number> {
    const run = this.exclusive.catch(() => undefined).then(async () => {
      await this.inbox.requeueReadyDeferred();
      let claimed = 0;
      const runner = async () => {
        for (let n = await this.inbox.runBatch(); n > 0; n = keepGoing() ? await this.inbox.runBatch() : 0) claimed += n;
      };
      await Promise.all(Array.from({ length: this.opts.concurrency ?? 2 }, runner));
      return claimed;
    });
    this.exclusive = run;
    return run;
  }

  /** Something became due (an event stored by this process, a notification): drain soon. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.woken = false;
      try {
        await this.drain(() => this.running);
        failures = 0;
      } catch (err) {
        failures += 1;
        this.logger.error({ err }, 'webhook inbox worker could not drain the inbox; trying again');
      }
      if (!this.running || (this.woken && failures === 0)) continue;
      // After errors (the database away), wait longer each time, up to half a minute.
      const waitMs = failures ? Math.min(this.pollMs * 2 ** failures, 30_000) : this.pollMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
    }
  }

  /** Waits, unless the worker stops first. */
  private pause(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); }), this.stopped])
      .finally(() => clearTimeout(timer));
  }

  /** Keeps one dedicated connection LISTENing; reconnects after it drops (the poll covers the gap). */
  private async listen(connectionString: string): Promise<void> {
    let failures = 0;
    while (this.running) {
      const client = new Client({ connectionString, keepAlive: true });
      const closed = new Promise<void>((resolve) => {
        client.on('error', (err) => {
          if (this.running) this.logger.warn({ err }, 'webhook inbox LISTEN connection failed; polling until it is back');
          resolve();
        });
        client.on('end', () => resolve());
      });
      client.on('notification', () => this.wake());
      try {
        await client.connect();
        await client.query(`LISTEN ${INBOX_CHANNEL}`);
        this.listener = client;
        this.signalListening();
        failures = 0;
        this.wake(); // anything stored while nobody listened
        if (this.running) await closed;
      } catch (err) {
        failures += 1;
        if (this.running) this.logger.warn({ err }, 'webhook inbox could not LISTEN; polling until it can');
      } finally {
        this.listener = null;
        await client.end().catch(() => undefined);
      }
      if (this.running) await this.pause(Math.min(1_000 * 2 ** failures, 30_000));
    }
  }
}
