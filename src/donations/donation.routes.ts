import { Router, type Response } from 'express';
import type { DataSource } from 'typeorm';
import { campaignPageModel } from '../campaigns/campaign-page';
import { findCampaignBySlug } from '../campaigns/campaign.service';
import type { Campaign } from '../campaigns/campaign.entity';
import { challengeView } from '../security/challenge-view';
import type { ChallengeWidget } from '../security/human-challenge';
import { NotFoundError } from '../web/errors';
import { refuseCrossSitePosts } from '../web/same-origin';
import { waitInWords } from '../web/wait-words';
import { thanksPageModel } from './thanks-page';
import { GIFT_COOKIE, giftCookieIntentId } from './gift-cookie';
import type { DonateService } from './donate.service';
import type { FieldErrors } from './donation-form';

export function donationRoutes(deps: {
  dataSource: DataSource;
  donate: DonateService;
  fees: { percentBps: number; fixedMinor: number };
  baseUrl: string;
  secureCookies: boolean;
}): Router {
  const { dataSource } = deps;
  const router = Router();

  const renderForm = async (res: Response, status: number, campaign: Campaign, body: Record<string, unknown>, errors: FieldErrors, formError?: string, challenge?: ChallengeWidget | null) => {
    const model = await campaignPageModel(dataSource, campaign, { fees: deps.fees, form: { values: body, errors, formError } });
    // The page holds what the donor typed (email, name): no cache along the way may keep it.
    res.set('Cache-Control', 'no-store');
    res.status(status).render('campaign', { ...model, challenge: challenge ? challengeView(challenge) : null });
  };

  router.post('/campaigns/:slug/donate', refuseCrossSitePosts(deps.baseUrl));
  router.post('/campaigns/:slug/donate', async (req, res) => {
    const campaign = await findCampaignBySlug(dataSource, req.params.slug);
    if (!campaign) throw new NotFoundError('We could not find that campaign.');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const outcome = await deps.donate.donate(campaign, body, req.ip ?? 'unknown');
    switch (outcome.kind) {
      case 'checkout':
        res.cookie(GIFT_COOKIE, outcome.intentId, { signed: true, httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, maxAge: 86_400_000 });
        return res.redirect(303, outcome.checkoutUrl);
      case 'campaign_closed':
        // The page says why (ended, not started, paused) in place of the form.
        return renderForm(res, 409, campaign, body, {});
      case 'invalid':
        return renderForm(res, 422, campaign, body, outcome.errors, 'Please check the highlighted fields.', outcome.challenge);
      case 'challenge_required':
        return renderForm(res, 403, campaign, body, {}, outcome.failed
          ? 'The check below did not go through or has expired. Please let it run again, then press Donate.'
          : 'We are seeing many donation attempts right now. Please let the check below confirm you are a person, then press Donate again.', outcome.challenge);
      case 'rate_limited':
        res.set('Retry-After', String(outcome.retryAfterSeconds));
        return renderForm(res, 429, campaign, body, {}, `There have been too many donation attempts from your network. Please try again in ${waitInWords(outcome.retryAfterSeconds)}.`);
      case 'provider_unavailable':
        return renderForm(res, 503, campaign, body, {}, 'We could not reach our payment provider. You have not been charged; please try again in a few minutes.');
    }
  });

  router.get('/thanks', async (req, res) => {
    const sessionId = typeof req.query.session_id === 'string' ? req.query.session_id : '';
    const page = await thanksPageModel(dataSource, sessionId, giftCookieIntentId(req));
    if (!page) throw new NotFoundError('We could not find that gift. If you were charged, your receipt email has the details.');
    // Shows the donor's name and gift.
    res.set('Cache-Control', 'no-store');
    res.render('thanks', page);
  });

  return router;
}
