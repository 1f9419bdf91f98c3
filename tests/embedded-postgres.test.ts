import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded';

const dirs: string[] = [];
const servers: EmbeddedPostgres[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir() {
  const dir = mkdtempSync(path.join(tmpdir(), 'kettle-embedded-'));
  chmodSync(dir, 0o755); // as root, the postgres user must reach it
  dirs.push(dir);
  return dir;
}

async function start(dir: string, applicationName: string) {
  const server = await startEmbeddedPostgres({ dataDir: dir, durability: 'ephemeral', applicationName });
  dirs.push(server.clusterDir.startsWith('/var/lib/kettle/') ? path.dirname(server.clusterDir) : server.clusterDir);
  return server;
}

async function query(url: string, applicationName: string, sql: string) {
  const client = new Client({ connectionString: url, application_name: applicationName });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const accepts = async (url: string) => {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
};

describe('the embedded PostgreSQL server', () => {
  it('initialises a real PostgreSQL cluster in DATA_DIR, on loopback, with a password only its owner can read', async () => {
    const dir = dataDir();
    const server = await start(dir, 'kettle-a');
    servers.push(server);
    expect(server.started).toBe(true);
    const [row] = await query(server.url, 'kettle-a', `SELECT current_setting('server_version_num')::int AS v, current_setting('listen_addresses') AS listen`);
    expect(row.v).toBeGreaterThanOrEqual(180000);
    expect(row.listen).toBe('127.0.0.1');
    expect(statSync(path.join(dir, 'postgres.secret')).mode & 0o777).toBe(0o600);
    const wrongPassword = new URL(server.url);
    wrongPassword.password = 'guess';
    expect(await accepts(wrongPassword.toString())).toBe(false);
  });

  it('lets a second process (the CLI while the server runs) join, and only the last one out stops it', async () => {
    const dir = dataDir();
    const server = await start(dir, 'kettle-server');
    const holder = new Client({ connectionString: server.url, application_name: 'kettle-server' });
    await holder.connect();
    const cli = await start(dir, 'kettle-cli');
    expect(cli.started).toBe(false);
    expect(cli.url).toBe(server.url);
    await cli.stop();
    expect(await accepts(server.url)).toBe(true);
    await holder.end();
    await server.stop();
    expect(await accepts(server.url)).toBe(false);
  });

  it('restarts at once after its parent was killed, joining the server left running', async () => {
    const dir = dataDir();
    // Started and never stopped, its connections gone: what a SIGKILLed Kettle leaves behind (the server runs detached).
    const orphan = await start(dir, 'kettle-killed');
    await query(orphan.url, 'test', `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'kettle-killed'`);
    const again = await start(dir, 'kettle-after-crash');
    expect(again.started).toBe(false);
    expect(await query(again.url, 'kettle-after-crash', 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await again.stop();
    expect(await accepts(orphan.url)).toBe(false);
  });

  it('never signals a process its pid file names unless it serves this cluster', async () => {
    const dir = dataDir();
    const first = await start(dir, 'kettle-a');
    await first.stop();
    // After a reboot the pid may belong to anything: here, this very test process.
    writeFileSync(path.join(first.clusterDir, 'postmaster.pid'), `${process.pid}\n${first.clusterDir}\n0\n5432\n\n127.0.0.1\n0 0\nready\n`);
    const second = await start(dir, 'kettle-b');
    servers.push(second);
    expect(second.started).toBe(true);
  });

  it('joins a server whose connections are all taken instead of stopping it', async () => {
    const dir = dataDir();
    const server = await startEmbeddedPostgres({ dataDir: dir, durability: 'ephemeral', applicationName: 'kettle-busy', maxConnections: 5 });
    dirs.push(server.clusterDir);
    servers.push(server);
    const held: Client[] = [];
    for (;;) {
      const c = new Client({ connectionString: server.url });
      try {
        await c.connect();
        held.push(c);
      } catch {
        break;
      }
    }
    try {
      const joined = await start(dir, 'kettle-cli');
      expect(joined.started).toBe(false);
      expect(joined.url).toBe(server.url);
    } finally {
      for (const c of held) await c.end();
    }
    expect(await accepts(server.url)).toBe(true);
  });

  it('sets a new password when postgres.secret was lost, keeping the data', async () => {
    const dir = dataDir();
    const first = await start(dir, 'kettle-a');
    await query(first.url, 'kettle-a', 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)');
    await first.stop();
    const lost = readFileSync(path.join(dir, 'postgres.secret'), 'utf8');
    rmSync(path.join(dir, 'postgres.secret'));
    const second = await start(dir, 'kettle-b');
    servers.push(second);
    expect(readFileSync(path.join(dir, 'postgres.secret'), 'utf8')).not.toBe(lost);
    expect(await query(second.url, 'kettle-b', 'SELECT n FROM kept')).toEqual([{ n: 7 }]);
  });

  // Only root runs the server as another user, who may not reach DATA_DIR (a clone under /root, a private temp folder).
  it.runIf(process.getuid?.() === 0)('keeps a cluster its user cannot reach DATA_DIR for elsewhere, and deleting DATA_DIR resets it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kettle-private-')); // 0700: unreachable for the server's user
    dirs.push(dir);
    const first = await start(dir, 'kettle-a');
    expect(first.clusterDir.startsWith('/var/lib/kettle/')).toBe(true);
    await query(first.url, 'kettle-a', 'CREATE TABLE kept (n int)');
    await first.stop();

    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o700 });
    const second = await start(dir, 'kettle-b');
    servers.push(second);
    expect(second.started).toBe(true);
    expect(second.clusterDir).not.toBe(first.clusterDir);
    expect(existsSync(first.clusterDir)).toBe(false);
    expect(await query(second.url, 'kettle-b', `SELECT to_regclass('kept') AS t`)).toEqual([{ t: null }]);
  });

  it('starts over a postmaster.pid whose process is gone, keeping the data', async () => {
    const dir = dataDir();
    const first = await start(dir, 'kettle-a');
    await query(first.url, 'kettle-a', 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    await first.stop();
    writeFileSync(path.join(first.clusterDir, 'postmaster.pid'), `999999\n${first.clusterDir}\n0\n5432\n\n127.0.0.1\n0 0\nready\n`);
    const second = await start(dir, 'kettle-b');
    servers.push(second);
    expect(second.started).toBe(true);
    expect(await query(second.url, 'kettle-b', 'SELECT n FROM kept')).toEqual([{ n: 42 }]);
  });
});
