import 'reflect-metadata';
import { DataSource, MigrationExecutor } from 'typeorm';
import { migrations } from '../../migrations';
import { Campaign } from '../campaigns/campaign.entity';
import { CheckoutIntent } from '../donations/checkout-intent.entity';
import { RecurringGift } from '../donations/recurring-gift.entity';
import { Donor } from '../donors/donor.entity';
import { CampaignTotals } from '../ledger/campaign-totals.entity';
import { LedgerEntry } from '../ledger/ledger-entry.entity';
import { StripeEventRecord } from '../payments/stripe/stripe-event.entity';

export const entities = [Campaign, Donor, CheckoutIntent, RecurringGift, LedgerEntry, CampaignTotals, StripeEventRecord];

export function createDataSource(url: string, poolSize: number): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    logging: false,
    extra: { max: poolSize, connectionTimeoutMillis: 10_000 },
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
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
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
