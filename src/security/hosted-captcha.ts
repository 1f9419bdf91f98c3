import type { ChallengeCheck, ChallengeWidget, HumanChallenge } from './human-challenge';

interface Provider {
  /** The form field the provider's widget fills. */
  field: string;
  verifyUrl: string;
  /** Its widget's script and frames, for the page and the Content-Security-Policy. */
  scriptUrl: string;
  origins: string[];
}

export const HOSTED_CAPTCHAS: Record<'turnstile' | 'hcaptcha', Provider> = {
  turnstile: {
    field: 'cf-turnstile-response',
    verifyUrl: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
    scriptUrl: 'https://challenges.cloudflare.com/turnstile/v0/api.js',
    origins: ['https://challenges.cloudflare.com'],
  },
  hcaptcha: {
    field: 'h-captcha-response',
    verifyUrl: 'https://api.hcaptcha.com/siteverify',
    scriptUrl: 'https://js.hcaptcha.com/1/api.js',
    origins: ['https://hcaptcha.com', 'https://*.hcaptcha.com'],
  },
};

/**
 * Cloudflare Turnstile or hCaptcha, by setting: the widget comes from the provider, and each token
 * is checked by an HTTPS call to the provider (which also refuses a token used twice).
 */
export class HostedCaptcha implements HumanChallenge {
  private readonly provider: Provider;

  constructor(
    private readonly name: 'turnstile' | 'hcaptcha',
    private readonly siteKey: string,
    private readonly secretKey: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.provider = HOSTED_CAPTCHAS[name];
  }

  async widget(): Promise<ChallengeWidget> {
    return { provider: this.name, siteKey: this.siteKey };
  }

  async check(form: Record<string, unknown>, clientIp: string): Promise<ChallengeCheck> {
    const token = form[this.provider.field];
    if (token === undefined || token === '') return 'missing';
    if (typeof token !== 'string' || token.length > 4_000) return 'failed';
    try {
      const res = await this.fetchImpl(this.provider.verifyUrl, {
        method: 'POST',
        body: new URLSearchParams({ secret: this.secretKey, response: token, remoteip: clientIp }),
        signal: AbortSignal.timeout(5_000),
      });
      const body = (await res.json()) as { success?: boolean };
      return res.ok && body.success === true ? 'passed' : 'failed';
    } catch {
      // Provider unreachable: the donor can try again; an attacker gains nothing.
      return 'failed';
    }
  }
}
