import type { DataSource } from 'typeorm';
import { progressView } from '../campaigns/campaign-page';
import { Campaign } from '../campaigns/campaign.entity';
import { campaignProgress } from '../campaigns/campaign.service';
import { formatMoney } from '../money';
import { CheckoutIntent } from './checkout-intent.entity';

const FREQUENCY_WORDS = { once: '', monthly: ' every month', annual: ' every year' } as const;
const CHECKOUT_SESSION_ID = /^cs_[A-Za-z0-9_]{1,200}$/;

/**
 * The thank-you page for the Checkout Session Stripe sent the supporter back with; null when no
 * gift has that id. A session id in a URL can be shared or guessed at, so the gift's details are
 * shown only to the browser that started it (ownerIntentId, from the signed cookie).
 */
export async function thanksPageModel(dataSource: DataSource, sessionId: string, ownerIntentId: string | null) {
  const intent = CHECKOUT_SESSION_ID.test(sessionId)
    ? await dataSource.getRepository(CheckoutIntent).findOneBy({ stripeCheckoutSessionId: sessionId })
    : null;
  if (!intent) return null;
  const campaign = await dataSource.getRepository(Campaign).findOneByOrFail({ id: intent.campaignId });
  const progress = await campaignProgress(dataSource, campaign);
  const isOwner = ownerIntentId === intent.id;
  const confirmed = intent.status === 'completed';
  const failed = intent.status === 'failed' || intent.status === 'expired';

  return {
    title: 'Thank you',
    // Until the webhook confirms the gift, the page refreshes itself (no JavaScript needed).
    refreshSeconds: isOwner && !confirmed && !failed ? 3 : null,
    campaign: { slug: campaign.slug, title: campaign.title },
    gift: isOwner
      ? { amount: formatMoney(intent.totalAmount, intent.currency), every: FREQUENCY_WORDS[intent.frequency], name: intent.donorName, confirmed, failed }
      : null,
    progress: progressView(campaign, progress),
  };
}
