import { Router, type Response } from 'express';
import type { DataSource } from 'typeorm';
import { campaignPageModel, progressView } from '../campaigns/campaign-page';
import { campaignProgress, campaignState, findCampaignBySlug } from '../campaigns/campaign.service';
import { Campaign } from '../campaigns/campaign.entity';
import { formatMoney } from '../money';
import { GIFT_COOKIE, giftCookieIntentId } from './gift-cookie';
import { NotFoundError } from '../web/errors';
import { CheckoutIntent } from './checkout-intent.entity';
import { CheckoutService, PaymentProviderError } from './checkout.service';
import type { DonateLimiter, LimitHit } from './donate-limiter';
import type { Logger } from '../logger';
import { parseDonationForm, type FieldErrors } from './donation-form';

const FREQUENCY_WORDS = { once: '', monthly: ' every month', annual: ' every year' } as const;

export function donationRoutes(deps: {
  dataSource: DataSource;
  checkout: CheckoutService;
  limiter: DonateLimiter;
  fees: { percentBps: number; fixedMinor: number };
  secureCookies: boolean;
  logger: Logger;
}): Router {
  const { dataSource, checkout, limiter } = deps;
  const router = Router();

  const renderForm = async (res: Response, status: number, campaign: Campaign, body: Record<string, unknown>, errors: FieldErrors, formError?: string) => {
    res.status(status).render('campaign', await campaignPageModel(dataSource, campaign, { fees: deps.fees, form: { values: body, errors, formError } }));
  };

  router.post('/campaigns/:slug/donate', async (req, res) => {
    const campaign = await findCampaignBySlug(dataSource, req.params.slug);
    if (!campaign) throw new NotFoundError('We could not find that campaign.');
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (campaignState(campaign, new Date()) !== 'open') {
      // The page says why (ended, not started, paused) in place of the form.
      return renderForm(res, 409, campaign, body, {});
    }
    const tooMany = async (hit: LimitHit, what: string) => {
      deps.logger.warn({ campaign: campaign.slug, limit: what }, 'donate attempt rate-limited');
      res.set('Retry-After', String(hit.retryAfterSeconds));
      await renderForm(res, 429, campaign, body, {}, 'There have been too many donation attempts. Please wait a few minutes and try again.');
    };
    const ipHit = await limiter.attemptFromIp(req.ip ?? 'unknown');
    if (ipHit) return tooMany(ipHit, 'ip');

    const parsed = parseDonationForm(body, campaign, deps.fees);
    if (!parsed.ok) return renderForm(res, 422, campaign, body, parsed.errors, 'Please check the highlighted fields.');
    const giftHit = await limiter.giftAttempt(parsed.value.email, campaign.id);
    if (giftHit) return tooMany(giftHit, 'email or campaign');

    try {
      const { intent, checkoutUrl } = await checkout.start(campaign, parsed.value);
      res.cookie(GIFT_COOKIE, intent.id, { signed: true, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, maxAge: 86_400_000 });
      res.redirect(303, checkoutUrl);
    } catch (err) {
      if (!(err instanceof PaymentProviderError)) throw err;
      await renderForm(res, 503, campaign, body, {}, 'We could not reach our payment provider. You have not been charged; please try again in a few minutes.');
    }
  });

  router.get('/thanks', async (req, res) => {
    const sessionId = typeof req.query.session_id === 'string' ? req.query.session_id : '';
    const intent = /^cs_[A-Za-z0-9_]{1,200}$/.test(sessionId)
      ? await dataSource.getRepository(CheckoutIntent).findOne({ where: { stripeCheckoutSessionId: sessionId } })
      : null;
    if (!intent) throw new NotFoundError('We could not find that gift. If you were charged, your receipt email has the details.');
    const campaign = await dataSource.getRepository(Campaign).findOneByOrFail({ id: intent.campaignId });
    const progress = await campaignProgress(dataSource, campaign);
    // A session id in a URL can be shared or guessed at; the gift's details stay with the browser that started it.
    const isOwner = giftCookieIntentId(req) === intent.id;
    const confirmed = intent.status === 'completed';

    res.render('thanks', {
      title: 'Thank you',
      refreshSeconds: isOwner && !confirmed && intent.status !== 'expired' && intent.status !== 'failed' ? 3 : null,
      campaign: { slug: campaign.slug, title: campaign.title },
      gift: isOwner
        ? {
            amount: formatMoney(intent.totalAmount, intent.currency),
            every: FREQUENCY_WORDS[intent.frequency],
            name: intent.donorName,
            confirmed,
            failed: intent.status === 'failed' || intent.status === 'expired',
          }
        : null,
      progress: progressView(campaign, progress),
    });
  });

  return router;
}
