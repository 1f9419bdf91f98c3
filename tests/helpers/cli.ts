import { runCli, type CliIO } from '../../src/cli';

/** Runs `npm run cli -- …` in-process against a test database: its exit code and what it printed. */
export function cliOn(databaseUrl: () => string, extra: Partial<CliIO> = {}) {
  return async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { env: { DATABASE_URL: databaseUrl(), LOG_LEVEL: 'silent' }, out: (l) => out.push(l), err: (l) => err.push(l), ...extra });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
}
