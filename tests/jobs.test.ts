import { Pool } from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobRunner, JOBS_SCHEMA, type ScheduledJob } from '../src/jobs/job-runner';
import { createTestDatabase, type TestDatabase } from './helpers/database';

let db: TestDatabase;
const pools: Pool[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await db?.drop();
});

/** One Kettle instance's job runner, on its own pool as a separate process would be. */
function instance(jobs: ScheduledJob[]): JobRunner {
  const pool = new Pool({ connectionString: db.url, max: 3 });
  pools.push(pool);
  // Short intervals so the test waits about a second for the schedule, not half a minute.
  return new JobRunner({ pool, logger: pino({ level: 'silent' }), jobs, pollingSeconds: { cron: 1, jobs: 0.5 } });
}

describe('jobs across instances', () => {
  it('runs each scheduled run once, whichever of two instances on one database picks it up', async () => {
    const runs: string[] = [];
    let firstRun!: () => void;
    const ranOnce = new Promise<void>((resolve) => { firstRun = resolve; });
    // Every minute: each instance finds it due as soon as it looks.
    const probe = (who: string): ScheduledJob => ({ name: 'probe', cron: '* * * * *', run: async () => { runs.push(who); firstRun(); } });
    const a = instance([probe('a')]);
    const b = instance([probe('b')]);

    // Both start at once on a fresh database: pg-boss creates its schema once, under a lock.
    await Promise.all([a.start(), b.start()]);
    await ranOnce;
    await Promise.all([a.stop(), b.stop()]);

    // The cron tick becomes one job per minute slot, whichever instance saw it due; each job runs once.
    const { rows: [slots] } = await pools[0].query(
      `SELECT count(DISTINCT singleton_on)::int AS n FROM ${JOBS_SCHEMA}.job WHERE name = '__pgboss__send-it' AND data->>'name' = 'probe'`);
    const { rows: [jobs] } = await pools[0].query(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE started_on IS NOT NULL)::int AS started FROM ${JOBS_SCHEMA}.job WHERE name = 'probe'`);
    expect(slots.n).toBeGreaterThanOrEqual(1);
    // At most one job per slot (a slot that ticks over while the instances stop may not make one yet).
    expect(jobs.total).toBeGreaterThanOrEqual(1);
    expect(jobs.total).toBeLessThanOrEqual(slots.n);
    expect(runs).toHaveLength(jobs.started);
  });

  it('stops cleanly: a second start on the same schema works and stop waits for nothing when idle', async () => {
    const runner = instance([{ name: 'idle', cron: '0 0 1 1 *', run: async () => undefined }]);
    await runner.start();
    await runner.stop();
    const { rows: queues } = await pools.at(-1)!.query(`SELECT name, policy FROM ${JOBS_SCHEMA}.queue WHERE name = 'idle'`);
    expect(queues).toEqual([{ name: 'idle', policy: 'stately' }]);
  });
});
