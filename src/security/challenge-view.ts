import { HOSTED_CAPTCHAS } from './hosted-captcha';
import type { ChallengeWidget } from './human-challenge';

/** What views/partials/challenge.hbs lays out for each provider. */
export function challengeView(widget: ChallengeWidget) {
  if (widget.provider === 'altcha') return { altcha: { challengeJson: widget.challengeJson } };
  return {
    hosted: {
      scriptUrl: HOSTED_CAPTCHAS[widget.provider].scriptUrl,
      className: widget.provider === 'turnstile' ? 'cf-turnstile' : 'h-captcha',
      siteKey: widget.siteKey,
    },
  };
}
