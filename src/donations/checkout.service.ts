import type { DataSource } from 'typeorm';
import type { Campaign } from '../campaigns/campaign.entity';
import type { Logger } from '../logger';
import { maskEmail } from '../logger';
import { META_CAMPAIGN, META_CHECKOUT_INTENT, type Stripe } from '../payments/stripe/stripe-client';
import { CheckoutIntent } from './checkout-intent.entity';
import type { DonationRequest } from './donation-form';

export class PaymentProviderError extends Error {}

const INTERVAL = { monthly: 'month', annual: 'year' } as const;

/**
 * Writes the checkout intent, then asks Stripe for a Checkout Session keyed on it (idempotency key,
 * client_reference_id, metadata), so any retry or webhook leads back to this one row.
 */
export class CheckoutService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly stripe: Stripe,
    private readonly baseUrl: string,
    private readonly orgName: string,
    private readonly logger: Logger,
  ) {}

  async start(campaign: Campaign, request: DonationRequest): Promise<{ intent: CheckoutIntent; checkoutUrl: string }> {
    const repo = this.dataSource.getRepository(CheckoutIntent);
    const intent = await repo.save(repo.create({
      campaignId: campaign.id,
      frequency: request.frequency,
      donationAmount: request.donationAmount,
      feeCoverAmount: request.feeCoverAmount,
      totalAmount: request.totalAmount,
      currency: request.currency,
      email: request.email,
      donorName: request.name,
      comment: request.comment,
      anonymous: request.anonymous,
      dedication: request.dedication,
      newsletter: request.newsletter,
      status: 'pending',
    }));

    let session: Stripe.Checkout.Session;
    try {
      session = await this.stripe.checkout.sessions.create(this.sessionParams(campaign, intent), {
        idempotencyKey: `kettle-checkout-${intent.id}`,
      });
      if (!session.url) throw new Error('Checkout Session has no url');
    } catch (err) {
      await repo.update(intent.id, { status: 'failed' });
      // Stripe's messages can quote what was sent (the email): log what identifies the failure, not the text.
      const e = err as { type?: string; code?: string; statusCode?: number; requestId?: string };
      this.logger.error({ stripeError: { type: e.type, code: e.code, statusCode: e.statusCode, requestId: e.requestId },
        intent: intent.id, campaign: campaign.slug, donor: maskEmail(request.email) }, 'could not create Checkout Session');
      throw new PaymentProviderError('Stripe did not create a Checkout Session');
    }

    await repo.update({ id: intent.id, status: 'pending' }, { stripeCheckoutSessionId: session.id, checkoutUrl: session.url, status: 'open' });
    this.logger.info({ intent: intent.id, session: session.id, campaign: campaign.slug, frequency: intent.frequency }, 'checkout started');
    return { intent, checkoutUrl: session.url };
  }

  sessionParams(campaign: Campaign, intent: CheckoutIntent): Stripe.Checkout.SessionCreateParams {
    const metadata = { [META_CHECKOUT_INTENT]: intent.id, [META_CAMPAIGN]: campaign.id, campaign_slug: campaign.slug };
    const description = `Gift to ${this.orgName}: ${campaign.title}`;
    const common = {
      // Adaptive Pricing would charge in the donor's local currency; the ledger counts in the campaign's.
      adaptive_pricing: { enabled: false },
      submit_type: 'donate' as const,
      // Always a new customer: the donate form is anonymous, so an email typed there must never pick
      // an existing customer (its plans, its saved cards).
      customer_email: intent.email,
      client_reference_id: intent.id,
      metadata,
      success_url: `${this.baseUrl}/thanks?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${this.baseUrl}/campaigns/${campaign.slug}?cancelled=1`,
    };
    const productData = { name: campaign.title.slice(0, 250) };

    if (intent.frequency === 'once') {
      return {
        ...common,
        mode: 'payment',
        customer_creation: 'always',
        line_items: [{ quantity: 1, price_data: { currency: intent.currency, unit_amount: intent.totalAmount, product_data: productData } }],
        payment_intent_data: { metadata, description },
      };
    }
    return {
      ...common,
      mode: 'subscription',
      line_items: [{
        quantity: 1,
        price_data: { currency: intent.currency, unit_amount: intent.totalAmount, product_data: productData, recurring: { interval: INTERVAL[intent.frequency] } },
      }],
      subscription_data: { metadata, description },
    };
  }
}
