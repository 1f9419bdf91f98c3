import PgBoss from 'pg-boss';
import type { Pool } from 'pg';
import type { Logger } from '../logger';

/** A recurring job: when it runs (cron, UTC) and what it calls. The work itself lives in a capability's service. */
export interface ScheduledJob {
  name: string;
  cron: string;
  run(): Promise<unknown>;
  /** How long one run may take before pg-boss counts it as failed and retries it. */
  expireInSeconds?: number;
}

export interface JobRunnerOptions {
  /** The app's pg pool: pg-boss runs its few queries on it instead of opening a pool of its own. */
  pool: Pool;
  logger: Logger;
  jobs: ScheduledJob[];
  /** How often this instance looks for due schedules and queued jobs. Tests shorten it. */
  pollingSeconds?: { cron: number; jobs: number };
}

/** pg-boss keeps its tables in this schema and creates or upgrades it on start. */
export const JOBS_SCHEMA = 'pgboss';
const DEADLOCK_DETECTED = '40P01';

/**
 * Runs Kettle's recurring jobs once across all instances, on pg-boss (a Postgres-backed queue).
 * Every instance starts one; a scheduled run happens once because pg-boss turns each cron tick
 * into one job (one instance checks the schedules per interval, and the job is keyed on its
 * minute), and the "stately" queue policy keeps at most one run queued and one running.
 */
export class JobRunner {
  private readonly boss: PgBoss;
  private started = false;

  constructor(private readonly opts: JobRunnerOptions) {
    const polling = opts.pollingSeconds ?? { cron: 30, jobs: 10 };
    this.boss = new PgBoss({
      db: { executeSql: (text, values) => opts.pool.query(text, values) },
      schema: JOBS_SCHEMA,
      cronMonitorIntervalSeconds: polling.cron,
      cronWorkerIntervalSeconds: Math.min(polling.cron, 5),
      pollingIntervalSeconds: polling.jobs,
      // Finished jobs are history, not data: keep a week for a person to look at failures.
      deleteAfterDays: 7,
    });
    this.boss.on('error', (err) => opts.logger.error({ err }, 'job queue error'));
  }

  async start(): Promise<void> {
    const startedAt = Date.now();
    await this.boss.start();
    this.started = true;
    for (const job of this.opts.jobs) {
      await retryOnDeadlock(async () => {
        await this.boss.createQueue(job.name, { name: job.name, policy: 'stately', retryLimit: 3, retryDelay: 60, retryBackoff: true, expireInSeconds: job.expireInSeconds ?? 15 * 60 });
        await this.boss.schedule(job.name, job.cron, {}, { tz: 'UTC' });
      });
      await this.boss.work(job.name, { batchSize: 1 }, async () => this.run(job));
    }
    this.opts.logger.info({ jobs: this.opts.jobs.map((j) => `${j.name} ${j.cron}`), ms: Date.now() - startedAt }, 'job runner started');
  }

  /** Stops taking jobs and waits (briefly) for the running ones, so a deploy does not cut a job in half. */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.boss.stop({ graceful: true, timeout: timeoutMs, close: false });
  }

  private async run(job: ScheduledJob): Promise<void> {
    const startedAt = Date.now();
    try {
      const result = await job.run();
      this.opts.logger.info({ job: job.name, ms: Date.now() - startedAt, result }, 'job done');
    } catch (err) {
      this.opts.logger.error({ job: job.name, err }, 'job failed; it will be retried');
      throw err;
    }
  }
}

/**
 * pg-boss 10 gives each new queue a partition of its job table (DDL): instances setting up the
 * same queues at once can deadlock. The loser's statement rolls back whole, and both steps are
 * idempotent (create if missing, upsert the schedule), so trying again finds the work done.
 */
async function retryOnDeadlock(step: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await step();
    } catch (err) {
      if ((err as { code?: string }).code !== DEADLOCK_DETECTED || attempt === 5) throw err;
    }
  }
}
