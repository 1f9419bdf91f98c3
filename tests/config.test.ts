import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';

describe('configuration', () => {
  it('runs with no settings at all: embedded database, Stripe emulator, port 3000', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.baseUrl).toBe('http://localhost:3000');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.stripe.secretKey).toBeUndefined();
    expect(config.seedDemo).toBe(true);
  });

  it('names the variable in one clear line when a value is bad', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow('Invalid setting PORT: must be a whole number (got "eighty")');
    expect(() => loadConfig({ PORT: '70000' })).toThrow('Invalid setting PORT: must be at most 65535 (got "70000")');
    expect(() => loadConfig({ STRIPE_SECRET_KEY: 'pk_test_abc' })).toThrow(/^Invalid setting STRIPE_SECRET_KEY: must look like sk_test_/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/^Invalid setting DATABASE_URL/);
  });

  it('needs the webhook secret together with a Stripe key', () => {
    expect(() => loadConfig({ STRIPE_SECRET_KEY: 'sk_test_abc' })).toThrow('Invalid setting STRIPE_WEBHOOK_SECRET: is required when STRIPE_SECRET_KEY is set');
  });

  it('refuses to run production without real Stripe keys, a session secret, a base URL and a database', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/required when NODE_ENV=production/);
  });

  it('never echoes a secret back in the error', () => {
    expect(() => loadConfig({ STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_WEBHOOK_SECRET: 'nope-secret' })).toThrow(/^Invalid setting STRIPE_WEBHOOK_SECRET: must look like whsec_… \(got "…"\)$/);
  });

  it('checks TRUST_PROXY at boot', () => {
    expect(() => loadConfig({ TRUST_PROXY: 'garbage' })).toThrow(/^Invalid setting TRUST_PROXY: must be true, false, a hop count/);
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::/8' }).trustProxy).toBe('loopback, 10.0.0.0/8, fd00::/8');
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' }).databaseUrl).toBeUndefined();
  });

  describe('mail', () => {
    const production = {
      NODE_ENV: 'production', SESSION_SECRET: 's'.repeat(32), BASE_URL: 'https://give.example.org', DATABASE_URL: 'postgres://db/kettle',
      STRIPE_SECRET_KEY: 'sk_live_abc', STRIPE_WEBHOOK_SECRET: 'whsec_abc', MAIL_FROM: '"Newsroom" <giving@example.org>',
    };

    it('refuses production without an SMTP server or a sender: mail must really go out', () => {
      expect(() => loadConfig(production)).toThrow('Invalid setting SMTP_URL: is required when NODE_ENV=production');
      expect(() => loadConfig({ ...production, SMTP_URL: 'smtp://mail.example.org:587', MAIL_FROM: '' })).toThrow('Invalid setting MAIL_FROM: is required when NODE_ENV=production');
      expect(loadConfig({ ...production, SMTP_URL: 'smtp://mail.example.org:587' }).mail.smtpUrl).toBe('smtp://mail.example.org:587');
    });

    it('writes mail to DATA_DIR/outbox when SMTP_URL is unset outside production, from the organisation\'s name', () => {
      const config = loadConfig({ DATA_DIR: '/var/kettle', ORG_NAME: 'The "Daily" Bugle' });
      expect(config.mail).toEqual({ smtpUrl: undefined, from: '"The Daily Bugle" <giving@localhost>', outboxDir: '/var/kettle/outbox' });
    });

    it('takes only smtp:// or smtps:// URLs', () => {
      expect(() => loadConfig({ SMTP_URL: 'http://mail.example.org' })).toThrow(/^Invalid setting SMTP_URL: must look like smtp:\/\/user:pass@host:587/);
    });

    it('puts the legal name, tax id and the no-goods line on receipts', () => {
      expect(loadConfig({ ORG_NAME: 'Bugle' }).receipts).toEqual({
        legalName: 'Bugle', taxId: null, note: 'No goods or services were provided in exchange for this contribution.',
      });
      expect(loadConfig({ ORG_LEGAL_NAME: 'Bugle Media Inc.', ORG_TAX_ID: '12-3456789', RECEIPT_NOTE: 'Thank you.' }).receipts)
        .toEqual({ legalName: 'Bugle Media Inc.', taxId: '12-3456789', note: 'Thank you.' });
    });
  });

  describe('Stripe keys and URLs by environment', () => {
    const production = {
      NODE_ENV: 'production', SESSION_SECRET: 's'.repeat(32), BASE_URL: 'https://give.example.org', DATABASE_URL: 'postgres://db/kettle',
      STRIPE_WEBHOOK_SECRET: 'whsec_abc', SMTP_URL: 'smtps://giving:secret@smtp.example.org:465', MAIL_FROM: '"Newsroom" <giving@example.org>',
    };

    it('refuses a live key outside production, naming the variable', () => {
      for (const key of ['sk_live_abc', 'rk_live_abc']) {
        expect(() => loadConfig({ STRIPE_SECRET_KEY: key, STRIPE_WEBHOOK_SECRET: 'whsec_abc' }))
          .toThrow(/^Invalid setting STRIPE_SECRET_KEY: is a live key: live keys move real money and are refused unless NODE_ENV=production \(NODE_ENV is development\) \(got "…"\)$/);
      }
      expect(() => loadConfig({ NODE_ENV: 'test', STRIPE_SECRET_KEY: 'sk_live_abc', STRIPE_WEBHOOK_SECRET: 'whsec_abc' })).toThrow(/is a live key/);
    });

    it('refuses a test key in production unless ALLOW_TEST_KEYS_IN_PRODUCTION=true', () => {
      expect(() => loadConfig({ ...production, STRIPE_SECRET_KEY: 'sk_test_abc' }))
        .toThrow(/^Invalid setting STRIPE_SECRET_KEY: is a test key: no gift would be real\. Use a live key, or set ALLOW_TEST_KEYS_IN_PRODUCTION=true/);
      expect(loadConfig({ ...production, STRIPE_SECRET_KEY: 'sk_test_abc', ALLOW_TEST_KEYS_IN_PRODUCTION: 'true' }).stripe.secretKey).toBe('sk_test_abc');
      expect(loadConfig({ ...production, STRIPE_SECRET_KEY: 'sk_live_abc' }).env).toBe('production');
    });

    it('requires https for BASE_URL and STRIPE_API_BASE in production', () => {
      const live = { ...production, STRIPE_SECRET_KEY: 'sk_live_abc' };
      expect(() => loadConfig({ ...live, BASE_URL: 'http://give.example.org' }))
        .toThrow('Invalid setting BASE_URL: must be an https:// URL when NODE_ENV=production (got "http://give.example.org")');
      expect(() => loadConfig({ ...live, STRIPE_API_BASE: 'http://stripe.internal' }))
        .toThrow('Invalid setting STRIPE_API_BASE: must be an https:// URL when NODE_ENV=production (got "http://stripe.internal")');
      expect(loadConfig({ ...live, STRIPE_API_BASE: 'https://stripe-proxy.example.org' }).stripe.apiBase).toBe('https://stripe-proxy.example.org');
      expect(loadConfig({ BASE_URL: 'http://localhost:3000', STRIPE_API_BASE: 'http://127.0.0.1:12111', STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_WEBHOOK_SECRET: 'whsec_abc' }).baseUrl).toBe('http://localhost:3000');
    });
  });

  it('asks for a challenge over the soft donate limits, and refuses an IP over a hard ceiling five times the soft one by default', () => {
    expect(loadConfig({}).donateLimits).toEqual({ perIpPerHour: 20, perEmailPerHour: 10, perCampaignPerMinute: 120, hardPerIpPerHour: 100 });
    expect(loadConfig({ DONATE_LIMIT_PER_IP_PER_HOUR: '30', DONATE_HARD_LIMIT_PER_IP_PER_HOUR: '40' }).donateLimits.hardPerIpPerHour).toBe(40);
    expect(() => loadConfig({ DONATE_LIMIT_PER_IP_PER_HOUR: '30', DONATE_HARD_LIMIT_PER_IP_PER_HOUR: '20' }))
      .toThrow(/^Invalid setting DONATE_HARD_LIMIT_PER_IP_PER_HOUR: must be at least DONATE_LIMIT_PER_IP_PER_HOUR \(30\)/);
  });

  it('uses the self-hosted ALTCHA challenge unless another provider is set with its keys', () => {
    expect(loadConfig({}).captcha).toEqual({ provider: 'altcha' });
    expect(() => loadConfig({ CAPTCHA_PROVIDER: 'turnstile' })).toThrow('Invalid setting CAPTCHA_SITE_KEY: is required when CAPTCHA_PROVIDER=turnstile');
    expect(() => loadConfig({ CAPTCHA_PROVIDER: 'recaptcha' })).toThrow(/^Invalid setting CAPTCHA_PROVIDER/);
    expect(loadConfig({ CAPTCHA_PROVIDER: 'hcaptcha', CAPTCHA_SITE_KEY: 'site', CAPTCHA_SECRET_KEY: 'secret' }).captcha)
      .toEqual({ provider: 'hcaptcha', siteKey: 'site', secretKey: 'secret' });
  });

  it('bounds database and HTTP waits, with settings', () => {
    const config = loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: '0', HTTP_HEADERS_TIMEOUT_MS: '5000' });
    expect(config.databaseTimeouts).toEqual({ statementTimeoutMs: 0, connectTimeoutMs: 5000, idleInTransactionTimeoutMs: 60000 });
    expect(config.http).toEqual({ headersTimeoutMs: 5000, requestTimeoutMs: 30000, keepAliveTimeoutMs: 5000 });
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '60000', HTTP_REQUEST_TIMEOUT_MS: '30000' }))
      .toThrow('Invalid setting HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (30000) (got "60000")');
  });
});
