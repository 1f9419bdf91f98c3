import path from 'node:path';
import cookieParser from 'cookie-parser';
import express, { type Express } from 'express';
import { engine } from 'express-handlebars';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { accountRoutes } from './account/account.routes';
import { AdminAccountsService } from './admin/accounts/admin-accounts.service';
import { adminRoutes } from './admin/admin.routes';
import { CsvExporter } from './admin/exports/csv-export';
import { AdminSignInLimiter } from './admin/accounts/admin-sign-in-limiter';
import { AccountLinks } from './account/links';
import { DEFAULT_SIGN_IN_LIMITS, SignInLimiter } from './account/sign-in-limiter';
import { SignInService } from './account/sign-in.service';
import { campaignRoutes } from './campaigns/campaign.routes';
import type { Config } from './config';
import { CheckoutService } from './donations/checkout.service';
import { DonateLimiter } from './donations/donate-limiter';
import { DonateService } from './donations/donate.service';
import { donationRoutes } from './donations/donation.routes';
import { PlanActionsService } from './donations/plan-actions.service';
import { devOutboxRoutes } from './email/dev-outbox.routes';
import { createMailer, type Mailer } from './email/mailer';
import { DEFAULT_OUTBOX_POLICY, OutboxDelivery, type OutboxPolicy } from './email/outbox-delivery';
import { MailTemplates } from './email/templates';
import { MailOutboxWorker } from './jobs/mail-outbox.worker';
import { WebhookInboxWorker } from './jobs/webhook-inbox.worker';
import type { Logger } from './logger';
import { StripeEventHandlers } from './payments/stripe/event-handlers';
import { StripeInbox } from './payments/stripe/inbox';
import type { Stripe } from './payments/stripe/stripe-client';
import { webhookRoutes } from './payments/stripe/webhook.routes';
import { WebhookService } from './payments/stripe/webhook.service';
import { createHumanChallenge } from './security/challenge-factory';
import { HOSTED_CAPTCHAS } from './security/hosted-captcha';
import { deriveSecret } from './security/secrets';
import { SecurityAlerts } from './security/security-alerts';
import { errorHandler, notFound } from './web/errors';
import { warnAboutUntrustedProxies } from './web/proxy-warnings';
import { redactUrl } from './web/redact';

export interface AppDeps {
  config: Config;
  dataSource: DataSource;
  stripe: Stripe;
  /** The whsec_ secret webhooks are verified with (the emulator's own when it runs). */
  webhookSecret: string;
  logger: Logger;
  /** True while the built-in Stripe emulator stands in for Stripe: pages show a test-mode ribbon. */
  testMode: boolean;
  /** Origins of the checkout pages the donate form redirects to (allowed by the CSP's form-action). */
  checkoutOrigins: string[];
  /** The mail outbox's retry timing (tests shorten it). */
  mailPolicy?: Partial<OutboxPolicy>;
}

export interface App {
  app: Express;
  webhooks: WebhookService;
  /** Applies stored webhook events; the caller starts it (server, tests) and stops it on shutdown. */
  webhookWorker: WebhookInboxWorker;
  /** Sends queued mail; the caller starts it and stops it on shutdown, then closes the mailer. */
  mailWorker: MailOutboxWorker;
  mailer: Mailer;
}

const ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
// altcha's package.json "exports" hides its folders; its CommonJS entry sits in dist/main.
const ALTCHA_DIST = path.resolve(path.dirname(require.resolve('altcha')), '..');

/** Builds the Express app without listening: the server and supertest both use it. */
export function createApp(deps: AppDeps): App {
  const { config, dataSource, stripe, logger } = deps;
  const handlers = new StripeEventHandlers(stripe, logger);
  const connectionString = (dataSource.options as { url?: string }).url ?? null;
  const webhookWorker = new WebhookInboxWorker(new StripeInbox(dataSource, handlers, logger), logger, { connectionString });
  const mailer = createMailer(config.mail, config.baseUrl);
  const links = new AccountLinks(config.baseUrl, config.sessionSecret);
  const mailContext = {
    links,
    templates: new MailTemplates(path.join(ROOT, 'views/emails'), config.orgName),
    org: { name: config.orgName, baseUrl: config.baseUrl, receipts: config.receipts },
  };
  const mailDelivery = new OutboxDelivery(dataSource, mailer, mailContext, logger, { ...DEFAULT_OUTBOX_POLICY, ...deps.mailPolicy });
  const mailWorker = new MailOutboxWorker(mailDelivery, logger, { connectionString });
  const webhooks = new WebhookService(dataSource, stripe, deps.webhookSecret, () => webhookWorker.wake());
  const checkout = new CheckoutService(dataSource, stripe, config.baseUrl, config.orgName, logger);
  const pool = (dataSource.driver as PostgresDriver).master;
  const planActions = new PlanActionsService(dataSource, stripe, config.baseUrl, logger);
  const rateLimitKey = deriveSecret(config.sessionSecret, 'rate-limit-keys');
  const limiter = new DonateLimiter(pool, config.donateLimits, rateLimitKey);
  const challenge = createHumanChallenge(config.captcha, dataSource, config.sessionSecret);
  const donate = new DonateService(checkout, limiter, challenge, new SecurityAlerts(dataSource, logger), config.coverFees);
  const captchaOrigins = config.captcha.provider === 'altcha' ? [] : HOSTED_CAPTCHAS[config.captcha.provider].origins;

  const app = express();
  app.disable('x-powered-by');
  // Rate limits key on req.ip: only proxies we trust may set it from X-Forwarded-For.
  app.set('trust proxy', config.trustProxy);
  app.use(warnAboutUntrustedProxies(config, logger));
  app.engine('hbs', engine({ extname: '.hbs', defaultLayout: 'main', layoutsDir: path.join(ROOT, 'views/layouts'), partialsDir: path.join(ROOT, 'views/partials') }));
  app.set('view engine', 'hbs');
  // Whatever NODE_ENV says: recompiling templates per request was 45% of a page's CPU (npm run dev restarts on change).
  app.enable('view cache');
  app.set('views', path.join(ROOT, 'views'));
  app.locals.orgName = config.orgName;
  app.locals.testMode = deps.testMode;

  app.use(pinoHttp({
    logger,
    autoLogging: { ignore: (req) => req.url === '/healthz' },
    // Method, path and status are enough; headers carry cookies and signatures.
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  }));
  app.use(helmet({
    contentSecurityPolicy: {
      directives: {
        // Checkout, and the billing portal the account's "Update card" form redirects to (form-action covers redirects).
        'form-action': ["'self'", 'https://checkout.stripe.com', 'https://billing.stripe.com', ...deps.checkoutOrigins],
        // A hosted CAPTCHA (CAPTCHA_PROVIDER) loads its script and frame from the provider.
        'script-src': ["'self'", ...captchaOrigins],
        'frame-src': ["'self'", ...captchaOrigins],
        // A campaign's hero image may be any https address an admin gave (src/campaigns/campaign.service.ts).
        'img-src': ["'self'", 'data:', 'https:'],
        'connect-src': ["'self'", ...captchaOrigins],
        // Only meaningful behind HTTPS; on a plain-http demo it would break same-origin form posts.
        'upgrade-insecure-requests': config.baseUrl.startsWith('https://') ? [] : null,
      },
    },
    hsts: config.baseUrl.startsWith('https://'),
    // Not helmet's no-referrer: under it browsers send "Origin: null" on our own form posts, which
    // the donate form's cross-site check needs to see; other sites still learn nothing.
    referrerPolicy: { policy: 'same-origin' },
  }));

  app.get('/healthz', async (_req, res) => {
    try {
      await dataSource.query('SELECT 1');
      res.json({ status: 'ok' });
    } catch {
      res.status(503).json({ status: 'unavailable', message: 'The database is not reachable.' });
    }
  });

  // Before any body parser: the webhook signature covers the raw bytes.
  app.use(webhookRoutes(webhooks, logger));

  app.use('/assets', express.static(path.join(ROOT, 'views/assets'), { maxAge: '1h' }));
  // The ALTCHA widget from its package, served from our own origin (no third party).
  app.use('/assets/altcha/workers', express.static(path.join(ALTCHA_DIST, 'workers'), { maxAge: '1h' }));
  app.use('/assets/altcha', express.static(path.join(ALTCHA_DIST, 'external'), { maxAge: '1h' }));
  app.use('/assets/vendor/chart.js', express.static(path.dirname(require.resolve('chart.js')), { maxAge: '1h' }));
  // The console's campaign form carries a story of up to 20,000 characters; everyone else's forms are small.
  app.use('/admin', express.urlencoded({ extended: false, limit: '200kb', parameterLimit: 100 }));
  app.use(express.urlencoded({ extended: false, limit: '20kb', parameterLimit: 50 }));
  app.use(cookieParser(config.sessionSecret));

  // Development and demo only: the mail that would have been sent.
  if (deps.testMode) app.use(devOutboxRoutes(mailer.fileOutbox));
  app.use(campaignRoutes(dataSource, config.coverFees));
  app.use(donationRoutes({ dataSource, donate, fees: config.coverFees, baseUrl: config.baseUrl, secureCookies: config.baseUrl.startsWith('https://') }));
  app.use('/account', accountRoutes({
    dataSource,
    pool,
    sessionSecret: config.sessionSecret,
    secureCookies: config.baseUrl.startsWith('https://'),
    signIn: new SignInService(dataSource, links, new SignInLimiter(pool, DEFAULT_SIGN_IN_LIMITS, rateLimitKey)),
    planActions,
    receipts: config.receipts,
  }));

  app.use('/admin', adminRoutes({
    config,
    dataSource,
    pool,
    stripe,
    logger,
    links,
    planActions,
    exporter: new CsvExporter(pool.options.connectionString!),
    sessionSecret: config.sessionSecret,
    secureCookies: config.baseUrl.startsWith('https://'),
    accounts: new AdminAccountsService(dataSource, new AdminSignInLimiter(pool, rateLimitKey)),
  }));

  app.use(notFound);
  app.use(errorHandler(logger));
  return { app, webhooks, webhookWorker, mailWorker, mailer };
}
