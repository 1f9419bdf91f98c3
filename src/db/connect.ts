import path from 'node:path';
import type { DataSource } from 'typeorm';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { createDataSource, runMigrations } from './data-source';
import { startEmbeddedPostgres } from './embedded';

export interface Database {
  dataSource: DataSource;
  embedded: boolean;
  close(): Promise<void>;
}

/** DATABASE_URL's Postgres, or the embedded one persisted under DATA_DIR; migrated either way. */
export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  const embedded = config.databaseUrl
    ? null
    : await startEmbeddedPostgres({ dataDir: path.resolve(config.dataDir, 'pglite'), maxConnections: config.databasePoolSize + 2 });
  const url = config.databaseUrl ?? embedded!.url;
  const dataSource = createDataSource(url, config.databasePoolSize);
  try {
    await dataSource.initialize();
    const applied = await runMigrations(dataSource);
    if (applied.length) logger.info({ applied }, 'migrations applied');
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw err;
  }
  if (embedded) logger.info({ dir: path.resolve(config.dataDir, 'pglite') }, 'using the embedded Postgres (PGlite); set DATABASE_URL for a server');
  return {
    dataSource,
    embedded: Boolean(embedded),
    async close() {
      await dataSource.destroy();
      await embedded?.stop();
    },
  };
}
