import { campaignState } from '../campaigns/campaign.service';
import type { Campaign } from '../campaigns/campaign.entity';
import type { ChallengeWidget, HumanChallenge } from '../security/human-challenge';
import type { SecurityAlertKind, SecurityAlerts } from '../security/security-alerts';
import { CheckoutService, PaymentProviderError } from './checkout.service';
import type { DonateLimiter } from './donate-limiter';
import { parseDonationForm, type FieldErrors } from './donation-form';

export type DonateOutcome =
  | { kind: 'checkout'; intentId: string; checkoutUrl: string }
  | { kind: 'campaign_closed' }
  | { kind: 'rate_limited'; retryAfterSeconds: number }
  | { kind: 'challenge_required'; challenge: ChallengeWidget; failed: boolean }
  | { kind: 'invalid'; errors: FieldErrors; challenge: ChallengeWidget | null }
  | { kind: 'provider_unavailable' };

/**
 * A supporter's donate form, start to Checkout: the campaign must be open, the form valid, and,
 * over a rate limit, a challenge solved; only then is an intent stored and a Checkout Session created.
 * An IP network over the hard ceiling is refused outright.
 */
export class DonateService {
  constructor(
    private readonly checkout: CheckoutService,
    private readonly limiter: DonateLimiter,
    private readonly challenge: HumanChallenge,
    private readonly alerts: SecurityAlerts,
    private readonly fees: { percentBps: number; fixedMinor: number },
  ) {}

  async donate(campaign: Campaign, form: Record<string, unknown>, clientIp: string, now = new Date()): Promise<DonateOutcome> {
    if (campaignState(campaign, now) !== 'open') return { kind: 'campaign_closed' };

    const ip = await this.limiter.attemptFromIp(clientIp);
    if (ip.refusedForSeconds !== null) {
      await this.alerts.record('donate_ip_ceiling', campaign, now);
      return { kind: 'rate_limited', retryAfterSeconds: ip.refusedForSeconds };
    }

    const parsed = parseDonationForm(form, campaign, this.fees);
    if (!parsed.ok) return { kind: 'invalid', errors: parsed.errors, challenge: ip.overLimit ? await this.challenge.widget() : null };

    const gift = await this.limiter.giftAttempt(parsed.value.email, campaign.id);
    const reasons: SecurityAlertKind[] = [];
    if (gift.campaignOverLimit) reasons.push('donate_challenge_campaign');
    if (ip.overLimit) reasons.push('donate_challenge_ip');
    if (gift.emailOverLimit) reasons.push('donate_challenge_email');
    if (reasons.length > 0) {
      const check = await this.challenge.check(form, clientIp);
      if (check !== 'passed') {
        for (const reason of reasons) await this.alerts.record(reason, campaign, now);
        return { kind: 'challenge_required', challenge: await this.challenge.widget(), failed: check === 'failed' };
      }
    }

    try {
      const { intent, checkoutUrl } = await this.checkout.start(campaign, parsed.value);
      return { kind: 'checkout', intentId: intent.id, checkoutUrl };
    } catch (err) {
      if (err instanceof PaymentProviderError) return { kind: 'provider_unavailable' };
      throw err;
    }
  }
}
