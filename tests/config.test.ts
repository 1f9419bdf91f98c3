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
});
