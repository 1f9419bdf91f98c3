import 'reflect-metadata';
import dotenv from 'dotenv';
import { ConfigError, loadConfig, type Config } from './config';
import { openDatabase } from './db/connect';
import { createLogger } from './logger';

async function main() {
  dotenv.config({ quiet: true });
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  let waitingForPostgres!: () => void;
  const waiting = new Promise<void>((resolve) => { waitingForPostgres = resolve; });
  const opening = openDatabase(config, logger, waitingForPostgres);
  await Promise.race([waiting, opening]);
  // The rest of Kettle (Express, Stripe, templates: about a second) loads while PostgreSQL's own
  // processes work (initdb, the server starting, or the connection to DATABASE_URL being made).
  const { serve } = await import('./serve');
  await serve(config, logger, await opening);
}

main().catch((err) => {
  console.error(`Kettle could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
