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

    const customerId = intent.frequency === 'once' ? null : await this.customerWithPlans(request.email);
    let session: Stripe.Checkout.Session;
    try {
      session = await this.stripe.checkout.sessions.create(this.sessionParams(campaign, intent, customerId), {
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

  /**
   * The Stripe customer of this email's donor that already pays a plan (the newest), if any. A new
   * plan joins it, so one card update in the billing portal reaches all the donor's plans: a card
   * (PaymentMethod) belongs to one customer and cannot be shared with another. Checkout does not
   * show that customer's saved cards (they were saved with allow_redisplay "limited"), so someone
   * typing another person's email learns nothing from the page; the gift goes to that email's
   * donor, as it does with customer_email.
   */
  private async customerWithPlans(email: string): Promise<string | null> {
    const [row] = await this.dataSource.query(
      `SELECT rg.stripe_customer_id FROM recurring_gifts rg JOIN donors d ON d.id = rg.donor_id
        WHERE lower(d.email) = lower($1) AND rg.stripe_customer_id IS NOT NULL AND rg.status NOT IN ('canceled', 'incomplete_expired')
        ORDER BY rg.created_at DESC LIMIT 1`,
      [email],
    );
    return (row?.stripe_customer_id as string | undefined) ?? null;
  }

  /** `customerId`: an existing customer for a recurring gift (see customerWithPlans); otherwise Checkout makes one. */
  sessionParams(campaign: Campaign, intent: CheckoutIntent, customerId: string | null = null): Stripe.Checkout.SessionCreateParams {
    const metadata = { [META_CHECKOUT_INTENT]: intent.id, [META_CAMPAIGN]: campaign.id, campaign_slug: campaign.slug };
    const description = `Gift to ${this.orgName}: ${campaign.title}`;
    const common = {
      // Adaptive Pricing would charge in the donor's local currency; the ledger counts in the campaign's.
      adaptive_pricing: { enabled: false },
      submit_type: 'donate' as const,
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
        customer_email: intent.email,
        customer_creation: 'always',
        line_items: [{ quantity: 1, price_data: { currency: intent.currency, unit_amount: intent.totalAmount, product_data: productData } }],
        payment_intent_data: { metadata, description },
      };
    }
    return {
      ...common,
      mode: 'subscription',
      ...(customerId ? { customer: customerId } : { customer_email: intent.email }),
      line_items: [{
        quantity: 1,
        price_data: { currency: intent.currency, unit_amount: intent.totalAmount, product_data: productData, recurring: { interval: INTERVAL[intent.frequency] } },
      }],
      subscription_data: { metadata, description },
    };
  }
}
