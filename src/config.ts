import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

/** Settings from the environment (or .env), parsed and validated once at boot. */
const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optional = <T extends z.ZodTypeAny>(schema: T) => z.preprocess(blankToUndefined, schema.optional());
const withDefault = <T extends z.ZodTypeAny>(schema: T, value: z.input<T>) =>
  z.preprocess(blankToUndefined, schema.default(value as never));
const wholeNumber = (min: number, max: number) =>
  z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number')
    .min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

export interface DatabaseTimeouts {
  /** Server-side limit on one statement (0: none). */
  statementTimeoutMs: number;
  /** Limit on getting a connection: opening one, or waiting for a free one in the pool. */
  connectTimeoutMs: number;
  /** The server ends a session left idle inside a transaction this long (0: never), freeing its locks. */
  idleInTransactionTimeoutMs: number;
}

export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = { statementTimeoutMs: 30_000, connectTimeoutMs: 5_000, idleInTransactionTimeoutMs: 60_000 };

const schema = z
  .object({
    NODE_ENV: withDefault(z.enum(['development', 'test', 'production']), 'development'),
    PORT: withDefault(wholeNumber(0, 65535), 3000),
    BASE_URL: optional(z.url({ protocol: /^https?$/ })),
    DATABASE_URL: optional(z.url({ protocol: /^postgres(ql)?$/ })),
    DATA_DIR: withDefault(z.string(), './data'),
    DATABASE_POOL_SIZE: withDefault(wholeNumber(1, 100), 10),
    STRIPE_SECRET_KEY: optional(z.string().regex(/^(sk|rk)_(test|live)_\w+$/, 'must look like sk_test_… or sk_live_…')),
    STRIPE_WEBHOOK_SECRET: optional(z.string().regex(/^whsec_\w+$/, 'must look like whsec_…')),
    STRIPE_API_BASE: optional(z.url({ protocol: /^https?$/ })),
    STRIPE_EMULATOR_PORT: withDefault(wholeNumber(0, 65535), 0),
    SESSION_SECRET: optional(z.string().min(32, 'must be at least 32 characters')),
    LOG_LEVEL: withDefault(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
    ORG_NAME: withDefault(z.string().min(1).max(200), 'Kettle Demo Newsroom'),
    COVER_FEES_PERCENT_BPS: withDefault(wholeNumber(0, 5000), 290),
    COVER_FEES_FIXED_MINOR: withDefault(wholeNumber(0, 10_000), 30),
    SEED_DEMO: optional(z.enum(['true', 'false'])),
    DONATE_LIMIT_PER_IP_PER_HOUR: withDefault(wholeNumber(1, 1_000_000), 20),
    DONATE_LIMIT_PER_EMAIL_PER_HOUR: withDefault(wholeNumber(1, 1_000_000), 10),
    DONATE_LIMIT_PER_CAMPAIGN_PER_MINUTE: withDefault(wholeNumber(1, 1_000_000), 120),
    DONATE_HARD_LIMIT_PER_IP_PER_HOUR: optional(wholeNumber(1, 10_000_000)),
    CAPTCHA_PROVIDER: withDefault(z.enum(['altcha', 'turnstile', 'hcaptcha']), 'altcha'),
    CAPTCHA_SITE_KEY: optional(z.string().min(1)),
    CAPTCHA_SECRET_KEY: optional(z.string().min(1)),
    DATABASE_STATEMENT_TIMEOUT_MS: withDefault(wholeNumber(0, 86_400_000), DEFAULT_DATABASE_TIMEOUTS.statementTimeoutMs),
    DATABASE_CONNECT_TIMEOUT_MS: withDefault(wholeNumber(100, 600_000), DEFAULT_DATABASE_TIMEOUTS.connectTimeoutMs),
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: withDefault(wholeNumber(0, 86_400_000), DEFAULT_DATABASE_TIMEOUTS.idleInTransactionTimeoutMs),
    HTTP_HEADERS_TIMEOUT_MS: withDefault(wholeNumber(1_000, 600_000), 10_000),
    HTTP_REQUEST_TIMEOUT_MS: withDefault(wholeNumber(1_000, 3_600_000), 30_000),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: withDefault(wholeNumber(1_000, 600_000), 5_000),
    ALLOW_TEST_KEYS_IN_PRODUCTION: withDefault(z.enum(['true', 'false']), 'false'),
    // At least 30 days: a delayed payment (a bank debit) may take two weeks to settle.
    DATA_RETENTION_DAYS: withDefault(wholeNumber(30, 3650), 90),
    SMTP_URL: optional(z.url({ protocol: /^smtps?$/, error: 'must look like smtp://user:pass@host:587 or smtps://user:pass@host:465' })),
    MAIL_FROM: optional(z.string().min(3).max(320)),
    ORG_LEGAL_NAME: optional(z.string().min(1).max(300)),
    ORG_TAX_ID: optional(z.string().min(1).max(100)),
    RECEIPT_NOTE: withDefault(z.string().min(1).max(1000), 'No goods or services were provided in exchange for this contribution.'),
    TRUST_PROXY: withDefault(z.string().refine(isTrustProxy, 'must be true, false, a hop count, or a comma-separated list of loopback, linklocal, uniquelocal, IP addresses or subnets'), 'loopback'),
  })
  .superRefine((env, ctx) => {
    if (env.STRIPE_SECRET_KEY && !env.STRIPE_WEBHOOK_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['STRIPE_WEBHOOK_SECRET'], message: 'is required when STRIPE_SECRET_KEY is set' });
    }
    const production = env.NODE_ENV === 'production';
    if (production) {
      for (const key of ['STRIPE_SECRET_KEY', 'SESSION_SECRET', 'BASE_URL', 'DATABASE_URL', 'SMTP_URL', 'MAIL_FROM'] as const) {
        if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required when NODE_ENV=production' });
      }
      // Donors' emails and the gift cookie must not cross the network in clear.
      for (const key of ['BASE_URL', 'STRIPE_API_BASE'] as const) {
        if (env[key]?.startsWith('http://')) ctx.addIssue({ code: 'custom', path: [key], message: 'must be an https:// URL when NODE_ENV=production' });
      }
    }
    const key = env.STRIPE_SECRET_KEY;
    if (key && /^(sk|rk)_live_/.test(key) && !production) {
      ctx.addIssue({ code: 'custom', path: ['STRIPE_SECRET_KEY'], message: `is a live key: live keys move real money and are refused unless NODE_ENV=production (NODE_ENV is ${env.NODE_ENV})` });
    }
    if (key && /^(sk|rk)_test_/.test(key) && production && env.ALLOW_TEST_KEYS_IN_PRODUCTION !== 'true') {
      ctx.addIssue({ code: 'custom', path: ['STRIPE_SECRET_KEY'], message: 'is a test key: no gift would be real. Use a live key, or set ALLOW_TEST_KEYS_IN_PRODUCTION=true for a production rehearsal' });
    }
    if (env.CAPTCHA_PROVIDER !== 'altcha') {
      for (const name of ['CAPTCHA_SITE_KEY', 'CAPTCHA_SECRET_KEY'] as const) {
        if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: `is required when CAPTCHA_PROVIDER=${env.CAPTCHA_PROVIDER}` });
      }
    }
    if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['HTTP_HEADERS_TIMEOUT_MS'], message: `must not exceed HTTP_REQUEST_TIMEOUT_MS (${env.HTTP_REQUEST_TIMEOUT_MS})` });
    }
    if (env.DONATE_HARD_LIMIT_PER_IP_PER_HOUR !== undefined && env.DONATE_HARD_LIMIT_PER_IP_PER_HOUR < env.DONATE_LIMIT_PER_IP_PER_HOUR) {
      ctx.addIssue({ code: 'custom', path: ['DONATE_HARD_LIMIT_PER_IP_PER_HOUR'], message: `must be at least DONATE_LIMIT_PER_IP_PER_HOUR (${env.DONATE_LIMIT_PER_IP_PER_HOUR}): over that a challenge is asked, over this the IP is refused` });
    }
  });

export interface Config {
  env: 'development' | 'test' | 'production';
  port: number;
  baseUrl: string;
  /** Postgres connection string; undefined means the embedded PostgreSQL server kept under dataDir. */
  databaseUrl?: string;
  dataDir: string;
  databasePoolSize: number;
  stripe: {
    /** undefined means: run the built-in Stripe emulator. */
    secretKey?: string;
    webhookSecret?: string;
    apiBase?: string;
    emulatorPort: number;
  };
  sessionSecret: string;
  /** SESSION_SECRET was unset (outside production): boot swaps in one kept in the database, so links mailed survive a restart. */
  sessionSecretIsEphemeral: boolean;
  logLevel: string;
  orgName: string;
  coverFees: { percentBps: number; fixedMinor: number };
  seedDemo: boolean;
  /**
   * Over perIpPerHour, perEmailPerHour or perCampaignPerMinute the donate form asks for a challenge
   * (CAPTCHA); over hardPerIpPerHour an IP is refused with 429.
   */
  donateLimits: { perIpPerHour: number; perEmailPerHour: number; perCampaignPerMinute: number; hardPerIpPerHour: number };
  captcha: CaptchaConfig;
  /** Bounds on every database wait, so a stalled database fails requests instead of hanging them. */
  databaseTimeouts: DatabaseTimeouts;
  /** Bounds on how long a client may take to send a request (slow-loris defence). */
  http: { headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number };
  /** Express's "trust proxy": which proxies may say who the client is (X-Forwarded-For). */
  trustProxy: boolean | number | string;
  /** Days after which personal data Kettle no longer needs is purged (webhook payloads, abandoned intents). */
  dataRetentionDays: number;
  mail: MailConfig;
  /** What every receipt and statement says about the organisation. */
  receipts: { legalName: string; taxId: string | null; note: string };
}

export interface MailConfig {
  /** undefined (never in production): mail is written to the local outbox in outboxDir instead of sent. */
  smtpUrl?: string;
  /** The sender, such as `"Newsroom" <giving@example.org>`. */
  from: string;
  outboxDir: string;
}

export type CaptchaConfig =
  | { provider: 'altcha' }
  | { provider: 'turnstile' | 'hcaptcha'; siteKey: string; secretKey: string };

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const name = String(first.path[0] ?? 'configuration');
    const value = env[name];
    // Secrets, and the database URL (which may hold a password), are never echoed back.
    const shown = name.includes('SECRET') || name.includes('KEY') || name === 'DATABASE_URL' ? '…' : value;
    const reason = value === undefined ? first.message : `${first.message} (got "${shown}")`;
    throw new ConfigError(`Invalid setting ${name}: ${reason}`);
  }
  const e = parsed.data;
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    baseUrl: (e.BASE_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    stripe: {
      secretKey: e.STRIPE_SECRET_KEY,
      webhookSecret: e.STRIPE_WEBHOOK_SECRET,
      apiBase: e.STRIPE_API_BASE,
      emulatorPort: e.STRIPE_EMULATOR_PORT,
    },
    // Outside production a per-boot random secret is fine: it only signs the thank-you cookie.
    sessionSecret: e.SESSION_SECRET ?? randomBytes(32).toString('hex'),
    sessionSecretIsEphemeral: !e.SESSION_SECRET,
    logLevel: e.LOG_LEVEL,
    orgName: e.ORG_NAME,
    coverFees: { percentBps: e.COVER_FEES_PERCENT_BPS, fixedMinor: e.COVER_FEES_FIXED_MINOR },
    // The demo campaign never goes into a production database.
    seedDemo: e.NODE_ENV !== 'production' && (e.SEED_DEMO ? e.SEED_DEMO === 'true' : !e.DATABASE_URL),
    donateLimits: {
      perIpPerHour: e.DONATE_LIMIT_PER_IP_PER_HOUR,
      perEmailPerHour: e.DONATE_LIMIT_PER_EMAIL_PER_HOUR,
      perCampaignPerMinute: e.DONATE_LIMIT_PER_CAMPAIGN_PER_MINUTE,
      hardPerIpPerHour: e.DONATE_HARD_LIMIT_PER_IP_PER_HOUR ?? Math.min(10_000_000, 5 * e.DONATE_LIMIT_PER_IP_PER_HOUR),
    },
    captcha: e.CAPTCHA_PROVIDER === 'altcha'
      ? { provider: 'altcha' }
      : { provider: e.CAPTCHA_PROVIDER, siteKey: e.CAPTCHA_SITE_KEY!, secretKey: e.CAPTCHA_SECRET_KEY! },
    databaseTimeouts: {
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: e.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    },
    http: {
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    },
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    dataRetentionDays: e.DATA_RETENTION_DAYS,
    mail: {
      smtpUrl: e.SMTP_URL,
      from: e.MAIL_FROM ?? `"${e.ORG_NAME.replace(/["\\\r\n]/g, '')}" <giving@localhost>`,
      outboxDir: path.join(e.DATA_DIR, 'outbox'),
    },
    receipts: { legalName: e.ORG_LEGAL_NAME ?? e.ORG_NAME, taxId: e.ORG_TAX_ID ?? null, note: e.RECEIPT_NOTE },
  };
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true' || value === 'false') return value === 'true';
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** The forms Express's "trust proxy" accepts, checked here so a typo is one clear line at boot. */
function isTrustProxy(value: string): boolean {
  if (/^(true|false|\d+)$/.test(value)) return true;
  return value.split(',').map((part) => part.trim()).every((part) => {
    if (['loopback', 'linklocal', 'uniquelocal'].includes(part)) return true;
    const [address, prefix, ...rest] = part.split('/');
    const version = isIP(address);
    if (!version || rest.length) return false;
    return prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128));
  });
}
