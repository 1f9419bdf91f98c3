import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test run's server: TEST_DATABASE_URL's, or the embedded one this setup started. */
    testDatabaseServerUrl: string;
  }
}

/**
 * One PostgreSQL server for the whole run: TEST_DATABASE_URL when set (CI's first pass), otherwise the
 * embedded server Kettle itself uses, started once here. Each test file makes its own database on it.
 */
export default async function setup(project: TestProject) {
  if (process.env.TEST_DATABASE_URL) {
    project.provide('testDatabaseServerUrl', process.env.TEST_DATABASE_URL);
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'kettle-test-pg-'));
  chmodSync(dir, 0o755); // as root, the postgres user must reach it
  const server = await startEmbeddedPostgres({ dataDir: dir, durability: 'ephemeral', maxConnections: 300, applicationName: 'kettle-test-run' });
  project.provide('testDatabaseServerUrl', server.url);
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(server.clusterDir, { recursive: true, force: true });
  };
}
