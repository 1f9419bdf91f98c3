import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';

/** Settings from the environment (or .env), parsed and validated once at boot. */
const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optional = <T extends z.ZodTypeAny>(schema: T) => z.preprocess(blankToUndefined, schema.optional());
const withDefault = <T extends z.ZodTypeAny>(schema: T, value: z.input<T>) =>
  z.preprocess(blankToUndefined, schema.default(value as never));
const wholeNumber = (min: number, max: number) =>
  z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number')
    .min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

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
    DATA_RETENTION_DAYS: withDefault(wholeNumber(1, 3650), 90),
    TRUST_PROXY: withDefault(z.string().refine(isTrustProxy, 'must be true, false, a hop count, or a comma-separated list of loopback, linklocal, uniquelocal, IP addresses or subnets'), 'loopback'),
  })
  .superRefine((env, ctx) => {
    if (env.STRIPE_SECRET_KEY && !env.STRIPE_WEBHOOK_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['STRIPE_WEBHOOK_SECRET'], message: 'is required when STRIPE_SECRET_KEY is set' });
    }
    if (env.NODE_ENV === 'production') {
      for (const key of ['STRIPE_SECRET_KEY', 'SESSION_SECRET', 'BASE_URL', 'DATABASE_URL'] as const) {
        if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required when NODE_ENV=production' });
      }
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
  logLevel: string;
  orgName: string;
  coverFees: { percentBps: number; fixedMinor: number };
  seedDemo: boolean;
  donateLimits: { perIpPerHour: number; perEmailPerHour: number; perCampaignPerMinute: number };
  /** Express's "trust proxy": which proxies may say who the client is (X-Forwarded-For). */
  trustProxy: boolean | number | string;
  /** Days after which personal data Kettle no longer needs is purged (webhook payloads, abandoned intents). */
  dataRetentionDays: number;
}

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
    logLevel: e.LOG_LEVEL,
    orgName: e.ORG_NAME,
    coverFees: { percentBps: e.COVER_FEES_PERCENT_BPS, fixedMinor: e.COVER_FEES_FIXED_MINOR },
    // The demo campaign never goes into a production database.
    seedDemo: e.NODE_ENV !== 'production' && (e.SEED_DEMO ? e.SEED_DEMO === 'true' : !e.DATABASE_URL),
    donateLimits: {
      perIpPerHour: e.DONATE_LIMIT_PER_IP_PER_HOUR,
      perEmailPerHour: e.DONATE_LIMIT_PER_EMAIL_PER_HOUR,
      perCampaignPerMinute: e.DONATE_LIMIT_PER_CAMPAIGN_PER_MINUTE,
    },
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    dataRetentionDays: e.DATA_RETENTION_DAYS,
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
