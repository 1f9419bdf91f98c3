import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import lockfile from 'proper-lockfile';

export class EmbeddedDatabaseInUseError extends Error {}

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * An in-process Postgres (PGlite) behind a wire-protocol socket, so the ordinary pg driver and
 * every query path are the same as on a real server. dataDir undefined keeps it in memory.
 */
export async function startEmbeddedPostgres(opts: { dataDir?: string; maxConnections: number }): Promise<EmbeddedPostgres> {
  let unlock = async () => {};
  if (opts.dataDir) {
    mkdirSync(opts.dataDir, { recursive: true });
    // PGlite is one process's database: a second process opening the same files corrupts them.
    try {
      unlock = await lockfile.lock(opts.dataDir, { stale: 15_000, update: 5_000 });
    } catch {
      throw new EmbeddedDatabaseInUseError(`the embedded database in ${opts.dataDir} is in use by another Kettle process: stop it first, or set DATABASE_URL`);
    }
  }
  const db = await PGlite.create(opts.dataDir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: opts.maxConnections });
  await server.start();
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
      await unlock();
    },
  };
}
