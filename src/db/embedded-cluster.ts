import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { postgresBinaries } from './postgres-binaries';

/** Files of an embedded cluster: where it lives, and who runs it. */
export class EmbeddedPostgresError extends Error {}

export const SUPERUSER = 'postgres';
/** As root, the server runs as this system user: PostgreSQL refuses root, and the machine's own `postgres` account must not reach Kettle's files. */
const SYSTEM_USER = 'kettle-postgres';
const ELSEWHERE_ROOT = '/var/lib/kettle';

export type RunAs = { uid: number; gid: number } | Record<string, never>;

/** What PostgreSQL's processes get of our environment: nothing secret (SESSION_SECRET, Stripe keys stay with Kettle). */
export function serverEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

export function serverUser(): RunAs {
  if (userInfo().uid !== 0) return {};
  const id = (flag: string) => spawnSync('id', [flag, SYSTEM_USER], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    const made = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SYSTEM_USER], { encoding: 'utf8' });
    if (made.status !== 0 && id('-u').status !== 0) {
      throw new EmbeddedPostgresError(`running as root needs a "${SYSTEM_USER}" system user for PostgreSQL, and creating it failed: ${made.stderr.trim()}`);
    }
  }
  return { uid: Number(id('-u').stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

/**
 * DATA_DIR/postgres, unless we run as root and the server's user cannot reach DATA_DIR (a clone under
 * /root, a private temporary folder): then a folder of its own under /var/lib/kettle that DATA_DIR points
 * to (DATA_DIR/postgres.location). Deleting DATA_DIR resets the demo as a user expects: the next start
 * makes a new cluster and removes the one the old DATA_DIR pointed to.
 */
export function clusterLocation(dataDir: string, runAs: RunAs, log: (m: string) => void): string {
  const inDataDir = path.join(dataDir, 'postgres');
  if (!('uid' in runAs) || reachableBy(runAs, inDataDir)) return inDataDir;
  const pointer = path.join(dataDir, 'postgres.location');
  if (existsSync(pointer)) {
    const recorded = readFileSync(pointer, 'utf8').trim();
    if (recorded.startsWith(`${ELSEWHERE_ROOT}/`) && existsSync(recorded)) return recorded;
  }
  removeOrphansOf(dataDir);
  const home = path.join(ELSEWHERE_ROOT, randomBytes(8).toString('hex'));
  mkdirSync(home, { recursive: true, mode: 0o755 });
  writeFileSync(path.join(home, 'owner'), dataDir, { mode: 0o644 });
  const elsewhere = path.join(home, 'postgres');
  if (!reachableBy(runAs, elsewhere)) throw new EmbeddedPostgresError(`the ${SYSTEM_USER} user cannot use ${inDataDir} nor ${elsewhere}`);
  writeFileSync(pointer, `${elsewhere}\n`, { mode: 0o600 });
  log(`the ${SYSTEM_USER} user cannot reach ${dataDir}: the embedded cluster lives in ${elsewhere}`);
  return elsewhere;
}

/** Clusters made for an earlier DATA_DIR at this same path, which was deleted since (nobody can reach them any more). */
function removeOrphansOf(dataDir: string) {
  let homes: string[];
  try {
    homes = readdirSync(ELSEWHERE_ROOT);
  } catch {
    return;
  }
  for (const name of homes) {
    const home = path.join(ELSEWHERE_ROOT, name);
    try {
      if (readFileSync(path.join(home, 'owner'), 'utf8') !== dataDir) continue;
      if (existsSync(path.join(home, 'postgres', 'postmaster.pid'))) continue; // possibly running: leave it
      rmSync(home, { recursive: true, force: true });
    } catch {
      // Not one of ours, or already gone.
    }
  }
}

function reachableBy(runAs: RunAs, dir: string): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!('uid' in runAs)) return true;
  spawnSync('chown', [`${runAs.uid}:${runAs.gid}`, dir]);
  const probe = spawnSync('test', ['-w', dir, '-a', '-x', dir], runAs);
  if (probe.status === 0) return true;
  if (!existsSync(path.join(dir, 'PG_VERSION'))) rmSync(dir, { recursive: true, force: true });
  return false;
}

/** The superuser's password in DATA_DIR/postgres.secret, readable by its owner only; null when there is none yet. */
export function readSecret(file: string): string | null {
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
  if (statSync(file).mode & 0o077) throw new EmbeddedPostgresError(`${file} must be readable by its owner only (chmod 600 ${file})`);
  return secret || null;
}

/** Makes the secret unless another process just did; returns the one on disk either way. */
export function createSecret(file: string): string {
  try {
    writeFileSync(file, randomBytes(24).toString('base64url'), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readSecret(file)!;
}

/** initdb into a fresh sibling folder, then rename: a crash or a concurrent start never leaves half a cluster. */
export async function initialiseCluster(clusterDir: string, password: string, runAs: RunAs, log: (m: string) => void) {
  const staging = `${clusterDir}.init-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  const pwfile = path.join(staging, '.pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if ('uid' in runAs) spawnSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, staging]);
  const pgdata = path.join(staging, 'pgdata');
  const result = await run(postgresBinaries(runAs).initdb, [
    `--pgdata=${pgdata}`, `--username=${SUPERUSER}`, `--pwfile=${pwfile}`, '--auth=scram-sha-256',
    // One syncfs() instead of an fsync per file: durable, and seconds faster on a slow disk.
    // The builtin C.UTF-8 locale sorts as C does, and lower() knows every alphabet ("Ünïcode" finds "ünïcode").
    '--encoding=UTF8', '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8', '--no-instructions', '--sync-method=syncfs',
  ], runAs).catch((err: Error) => ({ code: -1, output: err.message }));
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

/** A cluster whose secret was lost gets a new password, set in single-user mode (the server must be stopped). */
export async function resetPassword(clusterDir: string, password: string, runAs: RunAs, log: (m: string) => void) {
  const result = await run(postgresBinaries(runAs).postgres, ['--single', '-D', clusterDir, 'postgres'], runAs,
    `ALTER ROLE ${SUPERUSER} PASSWORD '${password}';\n`);
  if (result.code !== 0) throw new EmbeddedPostgresError(`could not set a new password for the embedded PostgreSQL: ${result.output.trim().split('\n').slice(-2).join(' ')}`);
  log('the embedded PostgreSQL had lost its password file: a new password was set');
}

export function run(command: string, args: string[], runAs: RunAs, input?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...runAs, env: serverEnvironment() });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(input ?? '');
  });
}
