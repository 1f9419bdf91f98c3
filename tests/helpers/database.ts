import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded';

export interface TestDatabase {
  url: string;
  kind: 'server' | 'embedded';
  drop(): Promise<void>;
}

/**
 * A fresh, empty database for one test file, so files never collide. With TEST_DATABASE_URL set
 * (as .ci/run does) it is a new database on that PostgreSQL server; otherwise an in-memory PGlite.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    const embedded = await startEmbeddedPostgres({ maxConnections: 20 });
    return { url: embedded.url, kind: 'embedded', drop: () => embedded.stop() };
  }
  const name = `kettle_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    kind: 'server',
    async drop() {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
