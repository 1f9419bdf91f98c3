import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { DataSource } from 'typeorm';
import type { PlanActionsService } from '../../donations/plan-actions.service';
import { NotFoundError } from '../../web/errors';
import { requireRole } from '../admin-access';
import { renderAdmin } from '../admin-view';
import { consoleTime } from '../console-time';
import { cancelPlanForDonor, MANAGE_LINK_SLOT_MS, resendManageLink } from './donor-actions';
import { searchDonors, searchTerm } from './donor-directory';
import { eraseDonor } from './donor-erasure';
import { exportDonor } from './donor-export';
import { donorProfile, findDonor, type DonorRow } from './donor-profile';

/** What a redirect back to the donor page says, by a fixed code (never text from the URL). */
const NOTICES: Record<string, string> = {
  manage_link_queued: 'A mail with a fresh manage link is on its way to the donor.',
  manage_link_already_queued: `A manage link was already sent to this donor in the last ${MANAGE_LINK_SLOT_MS / 60_000} minutes; no second mail was queued.`,
  plan_ending: 'The plan is set to end at the end of its paid period. The donor was sent the cancellation confirmation.',
  plan_canceled: 'The plan was canceled now. The donor was sent the cancellation confirmation.',
  plan_unchanged: 'The plan was already set to end: nothing was sent to Stripe.',
  erased: 'Done: the donor\'s personal data is erased.',
};

interface DonorsDeps {
  dataSource: DataSource;
  planActions: PlanActionsService;
}

/** /admin/donors: find a donor, see what Kettle holds about them, act for them, export and erase it. */
export function donorsRoutes({ dataSource, planActions }: DonorsDeps): Router {
  const router = Router();

  router.get('/donors', async (req, res) => {
    const q = searchTerm(req.query.q);
    const list = await searchDonors(dataSource, q, { after: req.query.after, by: req.query.by });
    renderAdmin(req, res, 'admin/donors', {
      title: 'Donors',
      section: 'donors',
      q,
      donors: list.rows.map((d) => ({ id: d.id, email: d.email, name: d.name, created: consoleTime(d.createdAt), erased: d.erasedAt !== null })),
      nextUrl: list.next ? `/admin/donors?${new URLSearchParams({ q, ...list.next })}` : null,
      firstUrl: req.query.after ? `/admin/donors?${new URLSearchParams({ q })}` : null,
    });
  });

  router.get('/donors/:id', async (req, res) => {
    const donor = await donorOr404(dataSource, req.params.id);
    const notice = typeof req.query.notice === 'string' ? NOTICES[req.query.notice] ?? null : null;
    await showDonor(req, res, dataSource, donor, { notice });
  });

  router.get('/donors/:id/export.json', async (req, res) => {
    const donor = await donorOr404(dataSource, req.params.id);
    const data = await exportDonor(dataSource, donor, req.admin!.id);
    res.attachment(`donor-${donor.id}.json`).type('application/json').send(JSON.stringify(data, null, 2));
  });

  router.post('/donors/:id/manage-link', async (req, res) => {
    const donor = await donorOr404(dataSource, req.params.id);
    const outcome = await resendManageLink(dataSource, donor, req.admin!.id);
    if (outcome === 'erased') return showDonor(req, res, dataSource, donor, { status: 409, actionError: 'This donor was erased: there is no address to send a link to.' });
    res.redirect(303, `/admin/donors/${donor.id}?notice=manage_link_${outcome}`);
  });

  router.post('/donors/:id/plans/:planId/cancel', async (req, res) => {
    const donor = await donorOr404(dataSource, req.params.id);
    const when = req.body?.when === 'now' ? 'now' : req.body?.when === 'period_end' ? 'period_end' : null;
    if (!when) return showDonor(req, res, dataSource, donor, { status: 400, actionError: 'Choose whether the plan ends now or at the end of its paid period.' });
    const nonce = typeof req.body?.nonce === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(req.body.nonce) ? req.body.nonce : null;
    const outcome = await cancelPlanForDonor(dataSource, planActions, { donor, planId: String(req.params.planId), when, formNonce: nonce, adminId: req.admin!.id });
    switch (outcome.kind) {
      case 'not_found': throw new NotFoundError('This donor has no such plan.');
      case 'unchanged': return res.redirect(303, `/admin/donors/${donor.id}?notice=plan_unchanged`);
      case 'changed':
      case 'stale': return res.redirect(303, `/admin/donors/${donor.id}?notice=${when === 'now' ? 'plan_canceled' : 'plan_ending'}`);
      case 'refused': return showDonor(req, res, dataSource, donor, { status: 409, actionError: outcome.message });
      case 'provider_failed': return showDonor(req, res, dataSource, donor, { status: 502, actionError: outcome.message });
    }
  });

  // Irreversible: owners only.
  router.post('/donors/:id/erase', requireRole('owner'), async (req, res) => {
    const donor = await donorOr404(dataSource, req.params.id);
    const outcome = await eraseDonor(dataSource, donor.id, req.body?.confirm, req.admin!.id);
    switch (outcome.kind) {
      case 'not_found': throw new NotFoundError();
      case 'erased': return res.redirect(303, `/admin/donors/${donor.id}?notice=erased`);
      case 'already_erased': return showDonor(req, res, dataSource, donor, { status: 409, actionError: 'This donor was already erased.' });
      case 'unconfirmed': return showDonor(req, res, dataSource, donor, {
        status: 422, confirmError: 'Type the donor\'s email address, or the word ERASE, to confirm.',
        confirmValue: typeof req.body?.confirm === 'string' ? req.body.confirm.slice(0, 320) : '',
      });
      case 'plans_still_charging': return showDonor(req, res, dataSource, donor, {
        status: 409,
        confirmError: `${outcome.plans === 1 ? 'A plan' : `${outcome.plans} plans`} can still charge this donor. Cancel ${outcome.plans === 1 ? 'it' : 'them'} above first (now, or at the end of the paid period), then erase.`,
      });
      case 'events_waiting': return showDonor(req, res, dataSource, donor, {
        status: 409,
        confirmError: `${outcome.events === 1 ? 'A Stripe event' : `${outcome.events} Stripe events`} about this donor's gifts ${outcome.events === 1 ? 'is' : 'are'} still waiting to be applied (see Webhooks). Erase once the inbox is done with ${outcome.events === 1 ? 'it' : 'them'}.`,
      });
    }
  });

  return router;
}

async function donorOr404(dataSource: DataSource, id: unknown): Promise<DonorRow> {
  const donor = await findDonor(dataSource, id);
  if (!donor) throw new NotFoundError('There is no such donor.');
  return donor;
}

interface PageExtras {
  status?: number;
  notice?: string | null;
  actionError?: string;
  confirmError?: string;
  confirmValue?: string;
}

async function showDonor(req: Request, res: Response, dataSource: DataSource, donor: DonorRow, extras: PageExtras): Promise<void> {
  const profile = await donorProfile(dataSource, donor);
  renderAdmin(req, res, 'admin/donor', {
    title: donor.erasedAt ? 'Erased donor' : donor.email,
    section: 'donors',
    ...profile,
    ...extras,
    // A fresh value per page: the same form sent twice is one request to Stripe.
    nonce: randomBytes(12).toString('base64url'),
  });
}
