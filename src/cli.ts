import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { ZodError } from 'zod';
import { ADMIN_ROLES, AdminExistsError, createAdminAccount, MIN_PASSWORD_LENGTH, type AdminRole } from './admin/accounts/admin-accounts.service';
import { promptHidden } from './admin/accounts/password-prompt';
import { FIRST_STATEMENT_YEAR, parseStatementYear, queueStatementMails } from './account/statements.service';
import { FREQUENCIES } from './campaigns/campaign.entity';
import { CampaignExistsError, createCampaign } from './campaigns/campaign.service';
import type { DataSource } from 'typeorm';
import { ConfigError, loadConfig, type Config } from './config';
import { openDatabase } from './db/connect';
import { EmbeddedPostgresError } from './db/embedded';
import { verifyAllTotals } from './ledger/ledger.service';
import { createLogger, type Logger } from './logger';
import { formatMoney, isSupportedCurrency, parseMajorAmount, SUPPORTED_CURRENCIES } from './money';
import { LookbackError, parseLookback, ReconcileService } from './payments/stripe/reconcile.service';
import { createStripeClient } from './payments/stripe/stripe-client';
import { WebhookService } from './payments/stripe/webhook.service';
import { RetentionService } from './privacy/retention.service';

const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  migrate                         Apply pending database migrations.
  campaign:create                 Create a campaign.
      --slug <slug>               e.g. end-of-year (lower-case letters, digits, hyphens)
      --title <title>
      --goal <amount>             in major units, e.g. 50000 or 50000.00
      --currency <iso>            e.g. usd (${SUPPORTED_CURRENCIES.join(', ')})
      [--ends <YYYY-MM-DD>]       last day of the campaign (inclusive, UTC)
      [--presets <a,b,c>]         preset amounts in major units, e.g. 10,25,50,100
      [--frequency <once|monthly|annual>]  default frequency (once)
      [--story <markdown>]
  admin:create                    Create an admin console account (sign in at /admin/sign-in).
      --email <email>
      --role <owner|admin|viewer>  viewers see; admins act; owners also manage admin accounts
      [--password <password>]     at least ${MIN_PASSWORD_LENGTH} characters; asked for (twice, not shown) when absent
  totals:verify                   Check every campaign's kept totals against a recomputation from the ledger.
  reconcile --since <duration>    Store Stripe events the webhook inbox lacks, e.g. --since 72h (also 30m, 7d).
                                  Past 30 days, sessions, invoices, refunds and disputes are read.
                                  Needs STRIPE_SECRET_KEY (the built-in emulator lives inside the server).
  retention:purge                 Purge personal data older than DATA_RETENTION_DAYS (default 90).
  statements:send --year <yyyy>   Email every donor who gave that year (UTC) their giving statement, once:
                                  a second run queues nothing already queued.`;

class UsageError extends Error {}

function amountArg(name: string, value: string, currency: string): number {
  const parsed = parseMajorAmount(value, currency);
  if (!parsed.ok || parsed.minor <= 0) throw new UsageError(`--${name} must be a positive amount in major units, like 50000 or 25.50 (got "${value}")`);
  return parsed.minor;
}

export interface CliIO {
  env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
  /** Asks for a secret without showing it; absent when there is no terminal to ask on. */
  promptHidden?(question: string): Promise<string>;
}

const processIO: CliIO = {
  env: process.env,
  out: (l) => console.log(l),
  err: (l) => console.error(l),
  promptHidden: process.stdin.isTTY ? promptHidden : undefined,
};

/** Runs one CLI command; returns the process exit code (0 ok, 1 check failed, 2 bad usage or error). */
export async function runCli(argv: string[], io: CliIO = processIO): Promise<number> {
  try {
    return await run(argv, io);
  } catch (err) {
    io.err(`Error: ${describeError(err)}`);
    return 2;
  }
}

async function run(argv: string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    io.out(USAGE);
    return command ? 0 : 2;
  }
  if (!['migrate', 'campaign:create', 'admin:create', 'totals:verify', 'reconcile', 'retention:purge', 'statements:send'].includes(command)) throw new UsageError(`Unknown command "${command}".`);

  const config = loadConfig(io.env);
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);

  let campaignInput: Parameters<typeof createCampaign>[1] | undefined;
  if (command === 'campaign:create') {
    const { values } = parseArgs({
      args: rest,
      options: {
        slug: { type: 'string' }, title: { type: 'string' }, goal: { type: 'string' }, currency: { type: 'string' },
        ends: { type: 'string' }, presets: { type: 'string' }, frequency: { type: 'string' }, story: { type: 'string' },
      },
      strict: true,
    });
    for (const required of ['slug', 'title', 'goal', 'currency'] as const) {
      if (!values[required]) throw new UsageError(`--${required} is required.`);
    }
    const currency = values.currency!.toLowerCase();
    if (!isSupportedCurrency(currency)) throw new UsageError(`--currency must be one of ${SUPPORTED_CURRENCIES.join(', ')} (got "${values.currency}")`);
    let endsAt: Date | null = null;
    if (values.ends) {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(values.ends);
      endsAt = m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], 23, 59, 59)) : null;
      if (!endsAt || Number.isNaN(endsAt.getTime()) || endsAt.toISOString().slice(0, 10) !== values.ends) {
        throw new UsageError(`--ends must be a date like 2026-12-31 (got "${values.ends}")`);
      }
    }
    if (values.frequency && !(FREQUENCIES as readonly string[]).includes(values.frequency)) {
      throw new UsageError(`--frequency must be one of ${FREQUENCIES.join(', ')}`);
    }
    campaignInput = {
      slug: values.slug!,
      title: values.title!,
      goalAmount: amountArg('goal', values.goal!, currency),
      currency,
      endsAt,
      storyMarkdown: values.story ?? '',
      presetAmounts: values.presets ? values.presets.split(',').map((p) => amountArg('presets', p.trim(), currency)) : undefined,
      defaultFrequency: values.frequency as (typeof FREQUENCIES)[number] | undefined,
    };
  }

  const adminInput = command === 'admin:create' ? await adminAccountArgs(rest, io) : undefined;

  let reconcileSince: Date | undefined;
  if (command === 'reconcile') {
    const { values } = parseArgs({ args: rest, options: { since: { type: 'string' } }, strict: true });
    if (!values.since) throw new UsageError('--since is required, e.g. --since 72h');
    reconcileSince = new Date(Date.now() - parseLookback(values.since));
    if (!config.stripe.secretKey) throw new UsageError('reconcile needs STRIPE_SECRET_KEY: the built-in Stripe emulator runs inside the server and has no history to read.');
  } else if (command === 'retention:purge') {
    parseArgs({ args: rest, options: {}, strict: true });
  }

  let statementYear: number | undefined;
  if (command === 'statements:send') {
    const { values } = parseArgs({ args: rest, options: { year: { type: 'string' } }, strict: true });
    if (!values.year) throw new UsageError('--year is required, e.g. --year 2026');
    const thisYear = new Date().getUTCFullYear();
    const parsed = parseStatementYear(values.year, thisYear);
    if (!parsed.ok) throw new UsageError(`--year must be a year from ${FIRST_STATEMENT_YEAR} to ${thisYear}, like ${thisYear - 1} (got "${values.year}")`);
    statementYear = parsed.year;
  }

  const database = await openDatabase(config, logger);
  try {
    if (command === 'reconcile') {
      const s = await reconcileService(config, database.dataSource, logger).reconcile({ since: reconcileSince! });
      io.out(`Reconciled Stripe events since ${s.since.toISOString()}: ${s.eventsSeen} seen, ${s.newlyStored} newly stored, ${s.alreadyKnown} already known`
        + (s.synthesised ? ` (${s.synthesised} of them built from objects older than 30 days).` : '.'));
      return 0;
    }
    if (command === 'retention:purge') {
      const s = await new RetentionService(database.dataSource, config.dataRetentionDays, logger).purge();
      io.out(`Purged personal data from before ${s.cutoff.toISOString()} (${config.dataRetentionDays} days): `
        + `${s.eventPayloadsPurged} webhook event payloads, ${s.intentsPurged} abandoned checkout intents; removed ${s.sessionsPurged} expired sessions and ${s.signInLinksPurged} expired sign-in links.`);
      return 0;
    }
    if (command === 'statements:send') {
      const s = await queueStatementMails(database.dataSource.manager, statementYear!);
      io.out(`Queued ${s.queued} statement mails for ${statementYear} (${s.alreadyQueued} of the ${s.donors} donors who gave that year were already queued).`);
      if (statementYear === new Date().getUTCFullYear()) {
        io.out(`Note: ${statementYear} is not over. Donors who give for the first time later this year can be sent theirs by running this again; those queued now will not get another.`);
      }
      return 0;
    }
    if (command === 'admin:create') {
      const account = await createAdminAccount(database.dataSource, adminInput!);
      io.out(`Created ${account.role} account ${account.email}. Sign in at ${config.baseUrl}/admin/sign-in`);
      return 0;
    }
    if (command === 'migrate') {
      io.out('Database is up to date.');
      return 0;
    }
    if (command === 'campaign:create') {
      const campaign = await createCampaign(database.dataSource, campaignInput!);
      io.out(`Created campaign "${campaign.title}" (${campaign.slug}) with a goal of ${formatMoney(campaign.goalAmount, campaign.currency)}: ${config.baseUrl}/campaigns/${campaign.slug}`);
      return 0;
    }
    const checks = await verifyAllTotals(database.dataSource.manager);
    for (const c of checks) {
      io.out(`${c.matches ? 'ok      ' : 'MISMATCH'} ${c.slug}: kept ${JSON.stringify(c.kept)} recomputed ${JSON.stringify(c.recomputed)}`);
    }
    return checks.every((c) => c.matches) ? 0 : 1;
  } finally {
    await database.close();
  }
}

/** admin:create's arguments, the password asked for twice on a terminal when not given. */
async function adminAccountArgs(args: string[], io: CliIO): Promise<{ email: string; role: AdminRole; password: string }> {
  const { values } = parseArgs({ args, options: { email: { type: 'string' }, role: { type: 'string' }, password: { type: 'string' } }, strict: true });
  const email = values.email?.trim() ?? '';
  if (!email) throw new UsageError('--email is required.');
  if (email.length > 320 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new UsageError(`--email must be an email address like someone@example.org (got "${email}")`);
  if (!values.role) throw new UsageError(`--role is required: one of ${ADMIN_ROLES.join(', ')}.`);
  if (!(ADMIN_ROLES as readonly string[]).includes(values.role)) throw new UsageError(`--role must be one of ${ADMIN_ROLES.join(', ')} (got "${values.role}")`);
  let password = values.password;
  if (password === undefined) {
    if (!io.promptHidden) throw new UsageError('--password is required when not run on a terminal (on a terminal you are asked for it).');
    password = await io.promptHidden('Password: ');
    if (password.length >= MIN_PASSWORD_LENGTH && (await io.promptHidden('Same password again: ')) !== password) {
      throw new UsageError('The two passwords differ. Nothing was created.');
    }
  }
  if (password.length < MIN_PASSWORD_LENGTH) throw new UsageError(`The password must be at least ${MIN_PASSWORD_LENGTH} characters long. Nothing was created.`);
  return { email, role: values.role as AdminRole, password };
}

/** The webhook inbox as the server builds it: reconcile stores through the same receive(). */
function reconcileService(config: Config, dataSource: DataSource, logger: Logger): ReconcileService {
  const stripe = createStripeClient({ secretKey: config.stripe.secretKey!, apiBase: config.stripe.apiBase });
  const webhooks = new WebhookService(dataSource, stripe, config.stripe.webhookSecret!);
  return new ReconcileService(dataSource, stripe, webhooks, logger);
}

function describeError(err: unknown): string {
  if (err instanceof UsageError || err instanceof LookbackError || err instanceof ConfigError || err instanceof CampaignExistsError || err instanceof AdminExistsError || err instanceof EmbeddedPostgresError) return err.message;
  if (err instanceof ZodError) return err.issues.map((i) => `--${String(i.path[0])} ${i.message}`).join('; ');
  const code = (err as { code?: string })?.code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return `${(err as Error).message}\n\n${USAGE}`;
  return err instanceof Error ? err.message : String(err);
}
