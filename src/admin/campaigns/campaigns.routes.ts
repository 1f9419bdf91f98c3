import { Router, type Request, type Response } from 'express';
import type { DataSource } from 'typeorm';
import type { Campaign } from '../../campaigns/campaign.entity';
import { renderStory } from '../../campaigns/campaign.service';
import { formatMoney, SUPPORTED_CURRENCIES } from '../../money';
import { NotFoundError } from '../../web/errors';
import { renderAdmin } from '../admin-view';
import { AdminCampaignsService, CAMPAIGN_LIST_LIMIT } from './admin-campaigns.service';
import { campaignFormValues, newCampaignFormValues, parseCampaignForm, postedValues, type CampaignFieldErrors, type CampaignFormValues } from './campaign-form';

const FREQUENCY_LABELS = { once: 'Once', monthly: 'Monthly', annual: 'Annual' } as const;
const day = (date: Date | null) => (date ? date.toISOString().slice(0, 10) : null);

/**
 * Campaigns in the console: the list, the new-campaign form and each campaign's edit form.
 * /admin/campaigns/:slug itself is the campaign's dashboard (another router, mounted after this one).
 */
export function adminCampaignRoutes(dataSource: DataSource): Router {
  const router = Router();
  const campaigns = new AdminCampaignsService(dataSource);

  router.get('/campaigns', async (req, res) => {
    const rows = await campaigns.list();
    renderAdmin(req, res, 'admin/campaigns', {
      title: 'Campaigns',
      section: 'campaigns',
      notice: req.query.saved ? 'The campaign was saved.' : null,
      truncated: rows.length === CAMPAIGN_LIST_LIMIT ? CAMPAIGN_LIST_LIMIT : null,
      campaigns: rows.map((c) => ({
        slug: c.slug,
        title: c.title,
        active: c.active,
        currencyCode: c.currency.toUpperCase(),
        goal: formatMoney(c.goalAmount, c.currency),
        raised: formatMoney(c.raised, c.currency),
        startingAmount: c.startingAmount > 0 ? formatMoney(c.startingAmount, c.currency) : null,
        startsOn: day(c.startsAt),
        endsOn: day(c.endsAt),
      })),
    });
  });

  router.get('/campaigns/new', (req, res) => {
    renderForm(req, res, { values: newCampaignFormValues() });
  });

  router.post('/campaigns', async (req, res) => {
    if (req.body?.preview !== undefined) return renderForm(req, res, { values: postedValues(req.body), preview: true });
    const form = parseCampaignForm(req.body ?? {});
    if (!form.ok) return renderForm(req, res, { values: form.values, errors: form.errors, status: 400 });
    const outcome = await campaigns.create(form.data, req.admin!.id);
    if (outcome.kind !== 'saved') return renderForm(req, res, { values: form.values, errors: outcomeErrors(outcome), status: 409 });
    res.redirect(303, `/admin/campaigns?saved=${encodeURIComponent(outcome.campaign.slug)}`);
  });

  router.get('/campaigns/:slug/edit', async (req, res) => {
    const campaign = await campaigns.find(req.params.slug);
    if (!campaign) throw new NotFoundError('There is no campaign with that slug.');
    renderForm(req, res, { values: campaignFormValues(campaign), campaign });
  });

  router.post('/campaigns/:slug', async (req, res) => {
    const campaign = await campaigns.find(req.params.slug);
    if (!campaign) throw new NotFoundError('There is no campaign with that slug.');
    if (req.body?.preview !== undefined) return renderForm(req, res, { values: postedValues(req.body), campaign, preview: true });
    const form = parseCampaignForm(req.body ?? {}, campaign);
    if (!form.ok) return renderForm(req, res, { values: form.values, errors: form.errors, campaign, status: 400 });
    const outcome = await campaigns.update(campaign.slug, form.data, req.admin!.id);
    if (!outcome) throw new NotFoundError('There is no campaign with that slug.');
    if (outcome.kind === 'slug_taken' || outcome.kind === 'currency_locked') {
      return renderForm(req, res, { values: form.values, errors: outcomeErrors(outcome), campaign, status: 409 });
    }
    res.redirect(303, `/admin/campaigns?saved=${encodeURIComponent(outcome.campaign.slug)}`);
  });

  return router;
}

function outcomeErrors(outcome: { kind: 'slug_taken' } | { kind: 'currency_locked'; currency: string } | { kind: string }): CampaignFieldErrors {
  if (outcome.kind === 'slug_taken') return { slug: 'Another campaign already has this slug. Choose another one.' };
  const currency = 'currency' in outcome ? String(outcome.currency).toUpperCase() : '';
  return { currency: `The currency cannot change once giving has started: the ledger counts this campaign in ${currency}.` };
}

function renderForm(
  req: Request,
  res: Response,
  form: { values: CampaignFormValues; errors?: CampaignFieldErrors; campaign?: Campaign; preview?: boolean; status?: number },
): void {
  const { values, errors = {}, campaign, preview = false, status = 200 } = form;
  renderAdmin(req, res, 'admin/campaign-form', {
    title: campaign ? `Edit ${campaign.title}` : 'New campaign',
    section: 'campaigns',
    status,
    action: campaign ? `/admin/campaigns/${campaign.slug}` : '/admin/campaigns',
    editing: campaign ? { slug: campaign.slug, title: campaign.title } : null,
    values,
    errors,
    hasErrors: Object.keys(errors).length > 0,
    // The public page's renderer: what is previewed is what donors will see.
    storyPreviewHtml: preview ? renderStory(values.story) : null,
    currencies: SUPPORTED_CURRENCIES.map((code) => ({ code, label: code.toUpperCase(), selected: code === values.currency.toLowerCase() })),
    frequencies: Object.entries(FREQUENCY_LABELS).map(([value, label]) => ({ value, label, checked: value === values.default_frequency, id: `default-frequency-${value}` })),
  });
}
