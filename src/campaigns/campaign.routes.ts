import { Router } from 'express';
import type { DataSource } from 'typeorm';
import { NotFoundError } from '../web/errors';
import { campaignPageModel } from './campaign-page';
import { cachedCampaignReads } from './campaign-reads';
import { listActiveCampaigns, progressFromTotals } from './campaign.service';
import { formatMoney } from '../money';
import { unpaidCheckoutFormValues } from '../donations/checkout-intent.service';
import { giftCookieIntentId } from '../donations/gift-cookie';

export function campaignRoutes(dataSource: DataSource, fees: { percentBps: number; fixedMinor: number }): Router {
  const router = Router();
  const reads = cachedCampaignReads(dataSource);

  router.get('/', async (_req, res) => {
    const campaigns = await listActiveCampaigns(dataSource);
    if (campaigns.length === 1) return res.redirect(303, `/campaigns/${campaigns[0].slug}`);
    res.render('home', {
      title: 'Campaigns',
      campaigns: campaigns.map((c) => ({ slug: c.slug, title: c.title, goal: formatMoney(c.goalAmount, c.currency) })),
    });
  });

  router.get('/campaigns/:slug', async (req, res) => {
    const campaign = await reads.campaign(req.params.slug);
    if (!campaign) throw new NotFoundError('We could not find that campaign.');
    const cancelled = req.query.cancelled !== undefined;
    const values = cancelled ? await unpaidCheckoutFormValues(dataSource, campaign.id, giftCookieIntentId(req)) : undefined;
    // The cancelled form is refilled with the donor's own email and name: never cached.
    if (cancelled) res.set('Cache-Control', 'no-store');
    res.render('campaign', {
      ...(await campaignPageModel(dataSource, campaign, { fees, form: { values }, reads })),
      notice: cancelled ? 'Your gift was not completed and you were not charged. You can try again below.' : null,
    });
  });

  router.get('/api/campaigns/:slug/progress', async (req, res) => {
    const campaign = await reads.campaign(req.params.slug);
    if (!campaign) {
      res.status(404).json({ error: 'campaign_not_found', message: 'No campaign has that slug.' });
      return;
    }
    const { daysLeft: _daysLeft, ...progress } = progressFromTotals(campaign, await reads.totals(campaign.id));
    res.set('Cache-Control', 'no-store').json(progress);
  });

  return router;
}
