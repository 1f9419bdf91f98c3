import { Client } from 'pg';
import type { Logger } from '../logger';

/** A table of work a QueueWorker drains: claimed in batches, shared with other workers through SKIP LOCKED. */
export interface WorkQueue {
  /** Claims and does one batch of due work; returns how many items it claimed (0: nothing due). */
  runBatch(): Promise<number>;
  /** Runs once before each drain (say, making waiting items due again). */
  beforeDrain?(): Promise<unknown>;
  /** Milliseconds until the next item falls due (a retry after a backoff), or null when none waits. */
  nextDueInMs?(): Promise<number | null>;
}

export interface QueueWorkerOptions {
  /** What the worker drains, for log lines ("webhook inbox", "mail outbox"). */
  name: string;
  /** The Postgres channel that announces new work. */
  channel: string;
  /** Where to LISTEN; null: poll only. */
  connectionString: string | null;
  /** Fallback poll: a lost notification (a dropped LISTEN connection) strands nothing longer than this. */
  pollMs?: number;
  /** Runners draining at the same time in this process while a backlog lasts (default 2). */
  concurrency?: number;
}

/** Never loop faster than this on work that is due but held by another worker. */
const MIN_WAIT_MS = 25;

/**
 * Drains a work queue off the request path, in every instance: woken at once when this process
 * adds work, by NOTIFY when another instance does, at the time the next retry falls due, and by
 * a poll as a fallback. Instances, and the runners within one, share the work through the
 * queue's SKIP LOCKED claims. Holds no business rules.
 */
export class QueueWorker {
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

  constructor(private readonly queue: WorkQueue, protected readonly logger: Logger, private readonly opts: QueueWorkerOptions) {
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
   * Does everything due now, after any drain already under way in this process, and resolves
   * with how many items it claimed once every runner found nothing left. Tests use it to wait
   * until "queued" means "done".
   */
  drain(keepGoing: () => boolean = () => true): Promise<number> {
    const run = this.exclusive.catch(() => undefined).then(async () => {
      await this.queue.beforeDrain?.();
      let claimed = 0;
      const runner = async () => {
        for (let n = await this.queue.runBatch(); n > 0; n = keepGoing() ? await this.queue.runBatch() : 0) claimed += n;
      };
      await Promise.all(Array.from({ length: this.opts.concurrency ?? 2 }, runner));
      return claimed;
    });
    this.exclusive = run;
    return run;
  }

  /** Work was added (by this process, or a notification said so): drain soon. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.woken = false;
      let waitMs = this.pollMs;
      try {
        await this.drain(() => this.running);
        const nextDue = this.running ? await this.queue.nextDueInMs?.() : null;
        if (nextDue != null) waitMs = Math.max(MIN_WAIT_MS, Math.min(waitMs, nextDue));
        failures = 0;
      } catch (err) {
        failures += 1;
        this.logger.error({ err }, `${this.opts.name} worker could not drain the ${this.opts.name}; trying again`);
        // After errors (the database away), wait longer each time, up to half a minute.
        waitMs = Math.min(this.pollMs * 2 ** failures, 30_000);
      }
      if (!this.running || (this.woken && failures === 0)) continue;
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
          if (this.running) this.logger.warn({ err }, `${this.opts.name} LISTEN connection failed; polling until it is back`);
          resolve();
        });
        client.on('end', () => resolve());
      });
      client.on('notification', () => this.wake());
      try {
        await client.connect();
        await client.query(`LISTEN ${this.opts.channel}`);
        this.listener = client;
        this.signalListening();
        failures = 0;
        this.wake(); // anything added while nobody listened
        if (this.running) await closed;
      } catch (err) {
        failures += 1;
        if (this.running) this.logger.warn({ err }, `${this.opts.name} could not LISTEN; polling until it can`);
      } finally {
        this.listener = null;
        await client.end().catch(() => undefined);
      }
      if (this.running) await this.pause(Math.min(1_000 * 2 ** failures, 30_000));
    }
  }
}
