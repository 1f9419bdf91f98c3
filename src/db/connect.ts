import type { DataSource } from 'typeorm';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { createDataSource, runMigrations } from './data-source';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded';

export interface Database {
  dataSource: DataSource;
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * DATABASE_URL's Postgres, or the embedded PostgreSQL server kept under DATA_DIR; migrated either way.
 * `waiting` is called once only PostgreSQL is at work (initdb, its server starting, a connection being
 * made): the caller may use that time.
 */
export async function openDatabase(config: Config, logger: Logger, waiting: () => void = () => {}): Promise<Database> {
  let embedded: EmbeddedPostgres | null = null;
  let url = config.databaseUrl;
  if (!url) {
    const applicationName = `kettle-${process.pid}`;
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      applicationName,
      log: (message) => logger.info({ module: 'embedded-postgres' }, message),
      onBusy: waiting,
    });
    const withName = new URL(embedded.url);
    withName.searchParams.set('application_name', applicationName);
    url = withName.toString();
  }
  const dataSource = createDataSource(url, config.databasePoolSize, config.databaseTimeouts);
  // Migrations (an index over a million gifts, ANALYZE) may take longer than any request should:
  // they run on a connection of their own without the statement timeouts.
  const migrator = createDataSource(url, 1, { ...config.databaseTimeouts, statementTimeoutMs: 0, idleInTransactionTimeoutMs: 0 });
  waiting();
  try {
    await migrator.initialize();
    const applied = await runMigrations(migrator);
    if (applied.length) logger.info({ applied }, 'migrations applied');
    await dataSource.initialize();
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw err;
  } finally {
    if (migrator.isInitialized) await migrator.destroy();
  }
  return {
    dataSource,
    embedded: embedded !== null,
    async close() {
      await dataSource.destroy();
      await embedded?.stop();
    },
  };
}
