import { describe, expect, it } from 'vitest';
import { HostedCaptcha } from '../src/security/hosted-captcha';

/**
 * Turnstile and hCaptcha are checked by an HTTPS call to the provider, which this closed network
 * cannot reach: these tests stand in for the provider's answer, not for Kettle's code.
 */
describe('a hosted CAPTCHA (CAPTCHA_PROVIDER=turnstile or hcaptcha)', () => {
  const provider = (answer: () => Response | Promise<Response>) => {
    const calls: { url: string; body: URLSearchParams }[] = [];
    const fetchImpl = (async (url: string, init: RequestInit) => {
      calls.push({ url, body: init.body as URLSearchParams });
      return answer();
    }) as unknown as typeof fetch;
    return { calls, fetchImpl };
  };

  it('shows the site key and sends the token, secret and client IP to the provider', async () => {
    const { calls, fetchImpl } = provider(() => Response.json({ success: true }));
    const turnstile = new HostedCaptcha('turnstile', 'site-key', 'secret-key', fetchImpl);
    expect(await turnstile.widget()).toEqual({ provider: 'turnstile', siteKey: 'site-key' });
    expect(await turnstile.check({ 'cf-turnstile-response': 'token-1' }, '203.0.113.9')).toBe('passed');
    expect(calls[0].url).toBe('https://challenges.cloudflare.com/turnstile/v0/siteverify');
    expect(Object.fromEntries(calls[0].body)).toEqual({ secret: 'secret-key', response: 'token-1', remoteip: '203.0.113.9' });
  });

  it('fails on the provider saying no, on its being unreachable, and without a token asks for one', async () => {
    const refusing = new HostedCaptcha('hcaptcha', 's', 'k', provider(() => Response.json({ success: false, 'error-codes': ['invalid-input-response'] })).fetchImpl);
    expect(await refusing.check({ 'h-captcha-response': 'token' }, '::1')).toBe('failed');
    const down = new HostedCaptcha('hcaptcha', 's', 'k', provider(() => { throw new TypeError('fetch failed'); }).fetchImpl);
    expect(await down.check({ 'h-captcha-response': 'token' }, '::1')).toBe('failed');
    expect(await down.check({}, '::1')).toBe('missing');
    expect(await down.check({ 'h-captcha-response': ['a', 'b'] }, '::1')).toBe('failed');
  });
});
