import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { Campaign } from '../../campaigns/campaign.entity';
import { findCampaignBySlug } from '../../campaigns/campaign.service';
import { asUuid } from '../../donations/checkout-intent.service';
import { longDate } from '../../dates';
import { OFFLINE_METHODS, offlineMethodWords } from '../../donations/gift-words';
import { formatCharge } from '../../money';
import { NotFoundError } from '../../web/errors';
import { renderAdmin } from '../admin-view';
import type { AdminDeps } from '../admin.routes';
import { earliestReceivedOn, parseOfflineGiftForm, parseVoidReason, utcDay, type OfflineGiftField, type OfflineGiftValues } from './offline-gift-form';
import { findGiftToVoid, recordOfflineGift, voidOfflineGift, type GiftToVoid } from './offline-gifts.service';


/** Recording gifts that did not come through Stripe (cheques, transfers, cash), and voiding them. */
export function offlineGiftRoutes(deps: Pick<AdminDeps, 'dataSource'>): Router {
  const router = Router();

  router.get('/campaigns/:slug/offline-gifts/new', async (req, res) => {
    const campaign = await campaignOf(deps, req.params.slug);
    renderGiftForm(req, res, campaign, 200, {
      values: { amount: '', receivedOn: utcDay(new Date()), method: '', reference: '', donorEmail: '', donorName: '', note: '', nonce: newNonce() },
      errors: {},
    });
  });

  router.post('/campaigns/:slug/offline-gifts', async (req, res) => {
    const campaign = await campaignOf(deps, req.params.slug);
    const form = parseOfflineGiftForm(req.body, campaign, new Date());
    if (!form.ok) {
      // A form without its key gets a new one: the gift was not recorded, so sending it again cannot record it twice.
      const values = form.errors.form ? { ...form.values, nonce: newNonce() } : form.values;
      return renderGiftForm(req, res, campaign, 400, { values, errors: form.errors });
    }
    const outcome = await recordOfflineGift(deps.dataSource, campaign, form.value, req.admin!.id);
    if (outcome.kind === 'form_reused') {
      // The form came back (the Back button) with another gift typed over the one it recorded: ask, do not drop it.
      return renderGiftForm(req, res, campaign, 409, {
        values: { ...form.values, nonce: newNonce() },
        errors: { form: 'This form had already recorded a gift, so this one was not recorded. Check the values below and press the button again to record it as a new gift.' },
      });
    }
    res.redirect(303, `/admin/gifts/${outcome.entryId}`);
  });

  router.get('/gifts/:id/void', async (req, res) => {
    const gift = await giftOf(deps, req.params.id);
    renderVoidPage(req, res, gift, gift.source === 'offline' ? 200 : 409, {});
  });

  router.post('/gifts/:id/void', async (req, res) => {
    const gift = await giftOf(deps, req.params.id);
    const reason = parseVoidReason(req.body);
    if (!reason.ok) return renderVoidPage(req, res, gift, gift.source === 'offline' && !gift.voidedAt ? 400 : 409, { error: reason.error, value: reason.value });
    const outcome = await voidOfflineGift(deps.dataSource, gift.id, reason.reason, req.admin!.id);
    if (outcome.kind === 'not_found') throw new NotFoundError('We could not find that gift.');
    if (outcome.kind === 'voided') return res.redirect(303, `/admin/gifts/${gift.id}`);
    // Voided twice, or a card gift: nothing changed, and the page says why.
    renderVoidPage(req, res, outcome.gift, 409, { notice: outcome.kind === 'already_voided' ? 'This gift was already voided: nothing changed.' : undefined });
  });
  return router;
}

async function campaignOf(deps: Pick<AdminDeps, 'dataSource'>, slug: string): Promise<Campaign> {
  const campaign = await findCampaignBySlug(deps.dataSource, slug);
  if (!campaign) throw new NotFoundError('We could not find that campaign.');
  return campaign;
}

async function giftOf(deps: Pick<AdminDeps, 'dataSource'>, id: string): Promise<GiftToVoid> {
  const uuid = asUuid(id);
  const gift = uuid ? await findGiftToVoid(deps.dataSource.manager, uuid) : null;
  if (!gift) throw new NotFoundError('We could not find that gift.');
  return gift;
}

const newNonce = () => randomBytes(16).toString('base64url');

function renderGiftForm(req: Request, res: Response, campaign: Campaign, status: number, form: { values: OfflineGiftValues; errors: Partial<Record<OfflineGiftField, string>> }) {
  renderAdmin(req, res, 'admin/offline-gift-new', {
    title: `Record an offline gift · ${campaign.title}`,
    section: 'campaigns',
    status,
    campaign: { title: campaign.title, slug: campaign.slug, currency: campaign.currency.toUpperCase() },
    values: form.values,
    errors: form.errors,
    hasErrors: Object.keys(form.errors).length > 0,
    today: utcDay(new Date()),
    earliest: earliestReceivedOn(campaign.startsAt),
    methods: OFFLINE_METHODS.map((method) => ({ value: method, label: offlineMethodWords(method) ?? 'Other', selected: form.values.method === method })),
  });
}

function renderVoidPage(req: Request, res: Response, gift: GiftToVoid, status: number, view: { error?: string; value?: string; notice?: string }) {
  renderAdmin(req, res, 'admin/gift-void', {
    title: 'Void an offline gift',
    section: 'gifts',
    status,
    gift: {
      id: gift.id,
      amount: formatCharge(gift.amount, gift.currency),
      campaignTitle: gift.campaignTitle,
      donorEmail: gift.donorEmail,
      receivedOn: gift.receivedOn ? longDate(new Date(`${gift.receivedOn}T00:00:00Z`)) : longDate(gift.occurredAt),
      method: offlineMethodWords(gift.method) ?? (gift.method ? 'Other' : null),
      reference: gift.reference,
      offline: gift.source === 'offline',
      voidedAt: gift.voidedAt ? longDate(gift.voidedAt) : null,
      voidReason: gift.voidReason,
    },
    notice: view.notice ?? null,
    error: view.error ?? null,
    reasonValue: view.value ?? '',
  });
}
