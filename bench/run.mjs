// npm run bench: Kettle under load, on BENCH_DATABASE_URL's server or on the embedded Postgres.
// Prints `bench <name> <value> <unit>` lines and writes bench/results.json. See the README.
import 'reflect-metadata';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDataSource, runMigrations } from '../dist/src/db/data-source.js';
import { startEmbeddedPostgres } from '../dist/src/db/embedded.js';
import { createThrowawayDatabase } from '../dist/src/db/throwaway-database.js';
import { runDashboard, runDonate, runGiftsCsv, runPages, runStart, runSurge } from './parts.mjs';

const settings = {
  gifts: Number(process.env.BENCH_GIFTS ?? 1_000_000),
  surgeEvents: Number(process.env.BENCH_SURGE_EVENTS ?? 20_000),
  seconds: Number(process.env.BENCH_SECONDS ?? 10),
  surgeTimeoutS: Number(process.env.BENCH_SURGE_TIMEOUT_S ?? 180),
  parts: (process.env.BENCH_PARTS ?? 'pages,dashboard,surge,donate,start,gifts-csv').split(',').map((p) => p.trim()),
};

const results = [];
function report(name, value, unit) {
  const rounded = Math.round(value * 1000) / 1000;
  results.push({ name, value: rounded, unit });
  console.log(`bench ${name} ${rounded} ${unit}`);
}

/** A new, empty database for this run: on BENCH_DATABASE_URL's server, or an embedded cluster in a temp dir. */
async function benchDatabase() {
  const serverUrl = process.env.BENCH_DATABASE_URL;
  if (!serverUrl) {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kettle-bench-db-'));
    chmodSync(dataDir, 0o755); // as root, the postgres user must reach it
    const embedded = await startEmbeddedPostgres({ dataDir, maxConnections: 100 });
    const drop = async () => {
      await embedded.stop();
      rmSync(embedded.clusterDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    };
    return { kind: 'embedded', url: embedded.url, drop };
  }
  const database = await createThrowawayDatabase(serverUrl, 'kettle_bench');
  return { kind: 'server', ...database };
}

async function timed(label, fn) {
  const started = performance.now();
  await fn();
  report(`${label}_wall_time`, (performance.now() - started) / 1000, 's');
}

const database = await benchDatabase();
const db = new pg.Client({ connectionString: database.url });
try {
  const migrator = createDataSource(database.url, 1);
  await migrator.initialize();
  await runMigrations(migrator);
  await migrator.destroy();
  await db.connect();
  const ctx = { db, url: database.url, settings, report };
  console.log(`bench: ${database.kind} database, ${os.cpus().length} × ${os.cpus()[0]?.model}, node ${process.version}`);
  if (settings.parts.includes('pages')) await timed('pages', () => runPages(ctx));
  if (settings.parts.includes('dashboard')) await timed('dashboard', () => runDashboard(ctx));
  if (settings.parts.includes('surge')) await timed('surge', () => runSurge(ctx));
  if (settings.parts.includes('donate')) await timed('donate', () => runDonate(ctx));
  if (settings.parts.includes('start')) await timed('start', () => runStart(ctx));
  if (settings.parts.includes('gifts-csv')) await timed('gifts_csv', () => runGiftsCsv(ctx));
} finally {
  await db.end().catch(() => {});
  await database.drop();
}

const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` };
writeFileSync(new URL('results.json', import.meta.url), `${JSON.stringify({ at: new Date().toISOString(), database: database.kind, machine, settings, results }, null, 2)}\n`);
console.log('bench: wrote bench/results.json');
