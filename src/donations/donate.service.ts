import { campaignState } from '../campaigns/campaign.service';
import type { Campaign } from '../campaigns/campaign.entity';
import type { Logger } from '../logger';
import { CheckoutService, PaymentProviderError } from './checkout.service';
import type { DonateLimiter } from './donate-limiter';
import { parseDonationForm, type FieldErrors } from './donation-form';

export type DonateOutcome =
  | { kind: 'checkout'; intentId: string; checkoutUrl: string }
  | { kind: 'campaign_closed' }
  | { kind: 'rate_limited'; retryAfterSeconds: number }
  | { kind: 'invalid'; errors: FieldErrors }
  | { kind: 'provider_unavailable' };

/**
 * A supporter's donate form, start to Checkout: the campaign must be open, the attempt within its
 * rate limits, the form valid; only then is an intent stored and a Checkout Session created.
 */
export class DonateService {
  constructor(
    private readonly checkout: CheckoutService,
    private readonly limiter: DonateLimiter,
    private readonly fees: { percentBps: number; fixedMinor: number },
    private readonly logger: Logger,
  ) {}

  async donate(campaign: Campaign, form: Record<string, unknown>, clientIp: string, now = new Date()): Promise<DonateOutcome> {
    if (campaignState(campaign, now) !== 'open') return { kind: 'campaign_closed' };

    const ipHit = await this.limiter.attemptFromIp(clientIp);
    if (ipHit) return this.rateLimited(campaign, 'ip', ipHit.retryAfterSeconds);

    const parsed = parseDonationForm(form, campaign, this.fees);
    if (!parsed.ok) return { kind: 'invalid', errors: parsed.errors };

    const giftHit = await this.limiter.giftAttempt(parsed.value.email, campaign.id);
    if (giftHit) return this.rateLimited(campaign, 'email or campaign', giftHit.retryAfterSeconds);

    try {
      const { intent, checkoutUrl } = await this.checkout.start(campaign, parsed.value);
      return { kind: 'checkout', intentId: intent.id, checkoutUrl };
    } catch (err) {
      if (err instanceof PaymentProviderError) return { kind: 'provider_unavailable' };
      throw err;
    }
  }

  private rateLimited(campaign: Campaign, limit: string, retryAfterSeconds: number): DonateOutcome {
    this.logger.warn({ campaign: campaign.slug, limit }, 'donate attempt rate-limited');
    return { kind: 'rate_limited', retryAfterSeconds };
  }
}
