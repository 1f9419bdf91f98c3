import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import path from 'node:path';
import { createApp } from './app';
import { seedDemoCampaign } from './campaigns/demo';
import type { Config } from './config';
import type { Database } from './db/connect';
import { startKettleJobs } from './jobs/schedules';
import type { Logger } from './logger';
import { createStripeClient, type Stripe } from './payments/stripe/stripe-client';
import { startStripeEmulator, type StripeEmulator } from './stripe-emulator';
import { keptSecret } from './security/app-secrets';
import { createHttpServer } from './web/http-server';

interface StripeSetup {
  stripe: Stripe;
  webhookSecret: string;
  emulator: StripeEmulator | null;
  checkoutOrigins: string[];
}

async function setUpStripe(config: Config, logger: Logger): Promise<StripeSetup> {
  if (config.stripe.secretKey) {
    return {
      stripe: createStripeClient({ secretKey: config.stripe.secretKey, apiBase: config.stripe.apiBase }),
      webhookSecret: config.stripe.webhookSecret!,
      emulator: null,
      checkoutOrigins: config.stripe.apiBase ? [new URL(config.stripe.apiBase).origin] : [],
    };
  }
  const webhookSecret = `whsec_${randomBytes(24).toString('hex')}`;
  const emulator = await startStripeEmulator({
    port: config.stripe.emulatorPort,
    accountName: config.orgName,
    logger: logger.child({ module: 'stripe-emulator' }),
    // Kettle's database outlives a restart (DATA_DIR): so must the donors' customers and subscriptions it refers to.
    stateFile: path.join(config.dataDir, 'stripe-emulator.json'),
  });
  logger.warn({ url: emulator.url }, 'STRIPE_SECRET_KEY is not set: using the built-in Stripe emulator (test mode, no real money)');
  return {
    stripe: createStripeClient({ secretKey: 'sk_test_kettle_emulator', apiBase: emulator.url }),
    webhookSecret,
    emulator,
    checkoutOrigins: [new URL(emulator.url).origin, emulator.url.replace('127.0.0.1', 'localhost')],
  };
}

/** Everything after the database: Stripe (or the emulator), the demo seed, HTTP, the inbox worker and jobs, shutdown. */
export async function serve(bootConfig: Config, logger: Logger, database: Database): Promise<void> {
  const config = bootConfig.sessionSecretIsEphemeral
    ? { ...bootConfig, sessionSecret: await keptSecret(database.dataSource, 'session-secret') }
    : bootConfig;
  const stripeSetup = await setUpStripe(config, logger);

  if (config.seedDemo) {
    const demo = await seedDemoCampaign(database.dataSource);
    if (demo) logger.info({ slug: demo.slug }, 'seeded the demo campaign');
  }

  const { app, webhooks, webhookWorker, mailWorker, mailer } = createApp({
    config,
    dataSource: database.dataSource,
    logger,
    testMode: stripeSetup.emulator !== null,
    ...stripeSetup,
  });
  // createServer + 'error', not app.listen's callback: Express 5 calls that even when the port is taken.
  const server: Server = createHttpServer(app, config.http);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${config.port} is already in use (set PORT to another one)`) : err));
    server.listen(config.port, () => resolve());
  });
  stripeSetup.emulator?.setWebhook({ url: `http://127.0.0.1:${config.port}/stripe/webhook`, secret: stripeSetup.webhookSecret });
  logger.info({ url: config.baseUrl }, `Kettle is listening on ${config.baseUrl}`);

  // Applies stored webhook events (and retries, and deferred ones) off the request path.
  webhookWorker.start();
  // Sends queued mail (receipts, notices) with retries, off the webhook's path.
  mailWorker.start();
  if (!config.mail.smtpUrl) {
    const listed = stripeSetup.emulator ? ` and listed at ${config.baseUrl}/dev/outbox` : '';
    logger.warn({ dir: config.mail.outboxDir }, `SMTP_URL is not set: mail is written to ${config.mail.outboxDir}${listed}, not sent`);
  }
  const jobs = startKettleJobs({ dataSource: database.dataSource, stripe: stripeSetup.stripe, inbox: webhooks, dataRetentionDays: config.dataRetentionDays, logger });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), 10_000).unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await webhookWorker.stop();
    await mailWorker.stop();
    mailer.close();
    await jobs.stop();
    await stripeSetup.emulator?.close();
    await database.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
