import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { createApp } from '../../src/app';
import type { Campaign } from '../../src/campaigns/campaign.entity';
import { createCampaign, type CampaignInput } from '../../src/campaigns/campaign.service';
import { loadConfig, type Config } from '../../src/config';
import { createDataSource, runMigrations } from '../../src/db/data-source';
import { keptTotals, recomputeTotals, type Totals } from '../../src/ledger/ledger.service';
import { createStripeClient, type Stripe } from '../../src/payments/stripe/stripe-client';
import type { OutboxPolicy } from '../../src/email/outbox-delivery';
import type { MailOutboxWorker } from '../../src/jobs/mail-outbox.worker';
import type { WebhookInboxWorker } from '../../src/jobs/webhook-inbox.worker';
import type { WebhookService } from '../../src/payments/stripe/webhook.service';
import { startStripeEmulator, type StripeEmulator } from '../../src/stripe-emulator';
import { createTestDatabase, type TestDatabase } from './database';
import { startMailbox, type TestMailbox } from './mailbox';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

export const WEBHOOK_SECRET = 'whsec_test_kettle_suite_secret';

/** Where a test can read the app's log lines (JSON, one per write). */
export type LogStream = { write(line: string): void };

/** One Kettle app instance: its own pool, HTTP server, webhook inbox worker and mail outbox worker. */
export interface KettleInstance {
  baseUrl: string;
  app: ReturnType<typeof createApp>['app'];
  config: Config;
  webhooks: WebhookService;
  webhookWorker: WebhookInboxWorker;
  mailWorker: MailOutboxWorker;
  dataSource: DataSource;
  close(): Promise<void>;
}

/** Where a test Kettle's mail goes: a test SMTP server (tests/helpers/mailbox.ts), or by default a file outbox of its own. */
export interface MailOptions {
  mailbox?: TestMailbox;
}

/** Retries within a second, so a test of an SMTP outage waits on the mail, not on the backoff. */
const TEST_MAIL_POLICY: Partial<OutboxPolicy> = { backoffBaseMs: 50, backoffMaxMs: 1_000 };

export interface TestKettle extends KettleInstance {
  stripe: Stripe;
  emulator: StripeEmulator;
  /** With { mailbox: true }: the test SMTP server the app sends through, closed with the kettle. */
  mailbox?: TestMailbox;
  /** Present with { dbProxy: true }: cut() takes the database away from the app. */
  dbProxy?: TcpProxy;
  /** The database the app uses (through the proxy when there is one): more instances can join it. */
  dbUrl: string;
  /**
   * Resolves once every webhook the emulator sent so far has been delivered, everything due in the
   * inbox applied, and every mail due handed to the SMTP server (or, while it is down, tried).
   */
  settled(): Promise<void>;
}

const testConfig = () => loadConfig({
  NODE_ENV: 'test', PORT: '0', SESSION_SECRET: 'x'.repeat(32), ORG_NAME: 'Test Newsroom',
  ORG_LEGAL_NAME: 'Test Newsroom Foundation Inc.', ORG_TAX_ID: '12-3456789',
  // Every test gives from 127.0.0.1: the rate limits have their own test (donate.test.ts).
  DONATE_LIMIT_PER_IP_PER_HOUR: '1000000', DONATE_LIMIT_PER_EMAIL_PER_HOUR: '1000000', DONATE_LIMIT_PER_CAMPAIGN_PER_MINUTE: '1000000',
});

/**
 * A Kettle app instance on an existing (migrated) database and emulator, listening on a free port,
 * its webhook worker started as the server starts it. Several may share one database.
 */
export async function startKettleInstance(dbUrl: string, emulator: StripeEmulator, opts: { logStream?: LogStream } & MailOptions = {}): Promise<KettleInstance> {
  const dataSource = createDataSource(dbUrl, 5);
  await dataSource.initialize();
  const stripe = createStripeClient({ secretKey: 'sk_test_kettle_suite', apiBase: emulator.url });
  const logger = opts.logStream ? pino({ level: 'debug' }, opts.logStream) : pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

  // Listen first, so the app knows its own URL (Stripe's success_url leads a browser back to it).
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const outboxDir = opts.mailbox ? null : mkdtempSync(path.join(tmpdir(), 'kettle-test-outbox-'));
  const base = testConfig();
  const config: Config = { ...base, baseUrl, mail: { ...base.mail, smtpUrl: opts.mailbox?.url, outboxDir: outboxDir ?? base.mail.outboxDir } };
  const built = createApp({
    config,
    dataSource,
    stripe,
    webhookSecret: WEBHOOK_SECRET,
    logger,
    testMode: true,
    checkoutOrigins: [emulator.url],
    mailPolicy: TEST_MAIL_POLICY,
  });
  server.on('request', built.app);
  built.webhookWorker.start();
  built.mailWorker.start();
  return {
    baseUrl,
    app: built.app,
    config,
    webhooks: built.webhooks,
    webhookWorker: built.webhookWorker,
    mailWorker: built.mailWorker,
    dataSource,
    async close() {
      await built.webhookWorker.stop();
      await built.mailWorker.stop();
      built.mailer.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dataSource.destroy();
      if (outboxDir) rmSync(outboxDir, { recursive: true, force: true });
    },
  };
}

/**
 * A whole Kettle for one test file: its own database (migrated), the Stripe emulator reached by
 * the real stripe-node SDK over HTTP, and the app listening on a free port so the emulator's
 * signed webhooks reach it as Stripe's would.
 */
export async function startTestKettle(opts: { dbProxy?: boolean; autoDeliver?: boolean; logStream?: LogStream; mailbox?: TestMailbox | true } = {}): Promise<TestKettle> {
  const db: TestDatabase = await createTestDatabase();
  let dbUrl = db.url;
  let dbProxy: TcpProxy | undefined;
  if (opts.dbProxy) {
    const u = new URL(db.url);
    dbProxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.hostname = '127.0.0.1';
    u.port = String(dbProxy.port);
    dbUrl = u.toString();
  }
  const migrator = createDataSource(dbUrl, 2);
  await migrator.initialize();
  await runMigrations(migrator);
  await migrator.destroy();

  const emulator = await startStripeEmulator({ autoDeliver: opts.autoDeliver ?? true });
  const mailbox = opts.mailbox === true ? await startMailbox() : opts.mailbox;
  const instance = await startKettleInstance(dbUrl, emulator, { logStream: opts.logStream, mailbox });
  emulator.setWebhook({ url: `${instance.baseUrl}/stripe/webhook`, secret: WEBHOOK_SECRET });

  return {
    ...instance,
    stripe: createStripeClient({ secretKey: 'sk_test_kettle_suite', apiBase: emulator.url }),
    emulator,
    mailbox,
    dbProxy,
    dbUrl,
    async settled() {
      await emulator.idle();
      await instance.webhookWorker.drain();
      await instance.mailWorker.drain();
    },
    async close() {
      await emulator.close();
      dbProxy?.restore();
      await instance.close();
      await dbProxy?.close();
      if (opts.mailbox === true) await mailbox?.close();
      await db.drop();
    },
  };
}

let slugCounter = 0;

export function makeCampaign(kettle: TestKettle, overrides: Partial<CampaignInput> = {}): Promise<Campaign> {
  slugCounter += 1;
  return createCampaign(kettle.dataSource, {
    slug: `campaign-${slugCounter}`,
    title: 'Urgent end-of-year fundraising campaign',
    currency: 'usd',
    goalAmount: 50_000_00,
    presetAmounts: [10_00, 25_00, 50_00],
    startsAt: new Date(Date.now() - 86_400_000),
    endsAt: new Date(Date.now() + 30 * 86_400_000),
    ...overrides,
  });
}

export async function totalsOf(kettle: TestKettle, campaignId: string): Promise<{ kept: Totals; recomputed: Totals }> {
  return {
    kept: await keptTotals(kettle.dataSource.manager, campaignId),
    recomputed: await recomputeTotals(kettle.dataSource.manager, campaignId),
  };
}

/** Another app on the same database and emulator, with some settings, the logger or Stripe replaced. */
export function appVariant(kettle: TestKettle, overrides: { config?: Partial<Config>; logger?: Logger; stripe?: Stripe }) {
  return createApp({
    config: { ...kettle.config, ...overrides.config },
    dataSource: kettle.dataSource,
    stripe: overrides.stripe ?? kettle.stripe,
    webhookSecret: WEBHOOK_SECRET,
    logger: overrides.logger ?? pino({ level: 'silent' }),
    testMode: true,
    checkoutOrigins: [kettle.emulator.url],
  }).app;
}
