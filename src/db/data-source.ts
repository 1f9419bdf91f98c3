import 'reflect-metadata';
import pg from 'pg';
import { DataSource, MigrationExecutor } from 'typeorm';
import { migrations } from '../../migrations';
import { Campaign } from '../campaigns/campaign.entity';
import { DEFAULT_DATABASE_TIMEOUTS, type DatabaseTimeouts } from '../config';
import { CheckoutIntent } from '../donations/checkout-intent.entity';
import { RecurringGift } from '../donations/recurring-gift.entity';
import { Donor } from '../donors/donor.entity';
import { CampaignTotals } from '../ledger/campaign-totals.entity';
import { LedgerEntry } from '../ledger/ledger-entry.entity';
import { StripeEventRecord } from '../payments/stripe/stripe-event.entity';

export const entities = [Campaign, Donor, CheckoutIntent, RecurringGift, LedgerEntry, CampaignTotals, StripeEventRecord];

/** Grace beyond statement_timeout before the client gives up on a silent server (no answer at all). */
const silenceGraceMs = (statementTimeoutMs: number) => Math.min(5_000, statementTimeoutMs);

/**
 * A pg client that, when the server stays silent past query_timeout (a stalled network, a frozen
 * server), drops its connection instead of going back to the pool: the pool then opens fresh
 * connections, and recovers by itself once the database answers again.
 */
class StallAwareClient extends pg.Client {
  override query(...args: unknown[]): never {
    const abandonOnSilence = (err: unknown) => {
      if (err instanceof Error && err.message === 'Query read timeout') (this as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    };
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (err: unknown, result: unknown) => {
        if (err) abandonOnSilence(err);
        callback(err, result);
      };
    }
    const result = (pg.Client.prototype.query as (...a: unknown[]) => unknown).apply(this, args);
    if (result instanceof Promise) result.catch(abandonOnSilence);
    return result as never;
  }
}

export function createDataSource(url: string, poolSize: number, timeouts: DatabaseTimeouts = DEFAULT_DATABASE_TIMEOUTS): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    logging: false,
    extra: {
      Client: StallAwareClient,
      max: poolSize,
      // Bounds both opening a connection and waiting for a free one (then the app answers 503).
      connectionTimeoutMillis: timeouts.connectTimeoutMs,
      // Server side: a runaway statement, or a session stuck inside a transaction holding locks, ends.
      statement_timeout: timeouts.statementTimeoutMs || undefined,
      idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs || undefined,
      // Client side: a server that says nothing at all (a silent stall) cannot answer statement_timeout.
      query_timeout: timeouts.statementTimeoutMs ? timeouts.statementTimeoutMs + silenceGraceMs(timeouts.statementTimeoutMs) : undefined,
      // Lets the OS notice a peer that vanished without a word (a dropped NAT entry, a dead host).
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    },
  });
}

// An arbitrary constant that names Kettle's migration lock among the database's advisory locks.
const MIGRATION_LOCK_KEY = 7_301_989_412;

/**
 * Applies pending migrations under a session advisory lock, so instances starting together
 * take turns: the first migrates (and refreshes the planner's statistics), the others find nothing left to do.
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    // Polled, not waited for inside one statement: a waiting statement holds a snapshot, and a
    // migration that builds an index CONCURRENTLY waits for every older snapshot: a deadlock.
    while (!(await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK_KEY]))[0].locked) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    try {
      // On the lock's own connection: a pool of one (DATABASE_POOL_SIZE=1) has no second to wait for.
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = 'each';
      const applied = await executor.executePendingMigrations();
      // Fresh tables and indexes have no planner statistics until autovacuum comes round; without
      // them the planner guesses, and a guess once cost a scan of every gift per page.
      if (applied.length) await runner.query('ANALYZE');
      return applied.map((m) => m.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}
