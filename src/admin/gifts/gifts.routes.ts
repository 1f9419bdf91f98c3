import { Router, type Request, type Response } from 'express';
import { audit } from '../accounts/admin-accounts.service';
import type { AdminDeps } from '../admin.routes';
import { renderAdmin } from '../admin-view';
import { moderateComment, moderationQueue, type ModerationAction } from './comment-moderation';
import { campaignChoices, parseGiftFilters } from './gift-filters';
import { giftsCsvQuery, listGifts, parseCursor } from './gift-list';
import { giftListModel, giftPageModel, moderationModel, type GiftPageForm } from './gift-pages';
import { GiftRefunds } from './gift-refunds';

/** Gifts: the filtered list and its CSV export, a gift's page, refunds, and moderation of the donor wall. */
export function giftRoutes(deps: AdminDeps): Router {
  const router = Router();
  const refunds = new GiftRefunds(deps.dataSource, deps.stripe, deps.logger);

  router.get('/gifts', async (req, res) => {
    const campaigns = await campaignChoices(deps.dataSource);
    const parsed = parseGiftFilters(campaigns, req.query);
    const cursor = parseCursor(req.query.after);
    if (!parsed.ok || cursor === 'invalid') {
      const errors = parsed.ok ? { after: 'This page link is broken: start again from the first page.' } : parsed.errors;
      return renderAdmin(req, res, 'admin/gifts/list', { title: 'Gifts', section: 'gifts', status: 400, ...giftListModel(parsed.values, campaigns, [], null, errors) });
    }
    const page = await listGifts(deps.dataSource, parsed.filters, cursor);
    renderAdmin(req, res, 'admin/gifts/list', { title: 'Gifts', section: 'gifts', firstPage: cursor === null, ...giftListModel(parsed.values, campaigns, page.rows, page.next) });
  });

  router.get('/exports/gifts.csv', async (req, res) => {
    const campaigns = await campaignChoices(deps.dataSource);
    const parsed = parseGiftFilters(campaigns, req.query);
    if (!parsed.ok) {
      return renderAdmin(req, res, 'admin/gifts/list', { title: 'Gifts', section: 'gifts', status: 400, ...giftListModel(parsed.values, campaigns, [], null, parsed.errors) });
    }
    // A read, yet audited like the other exports: who took which personal data out, and when.
    await deps.exporter.send(res, giftsCsvQuery(parsed.filters), {
      onStart: () => audit(deps.dataSource.manager, { adminId: req.admin!.id, action: 'export.gifts', subjectType: 'export', subjectId: null, after: parsed.values }),
    });
  });

  router.get('/gifts/:id', async (req, res) => {
    await renderGift(req, res, 200, { requestedRefundId: req.query.refund_requested });
  });

  router.post('/gifts/:id/refund', async (req, res) => {
    const outcome = await refunds.request({ giftId: req.params.id, adminId: req.admin!.id, amount: req.body?.amount, requestKey: req.body?.request_key });
    if (outcome.kind === 'requested') return res.redirect(303, `/admin/gifts/${req.params.id}?refund_requested=${outcome.requestId}`);
    const amount = typeof req.body?.amount === 'string' ? req.body.amount : '';
    if (outcome.kind === 'invalid') return renderGift(req, res, 400, { amount, errors: { [outcome.field]: outcome.message } });
    await renderGift(req, res, 502, { amount, errors: { form: outcome.message } });
  });

  const moderation: [string, ModerationAction][] = [['hide-comment', 'hide'], ['restore-comment', 'restore'], ['approve-comment', 'approve']];
  for (const [path, action] of moderation) {
    router.post(`/gifts/:id/${path}`, async (req, res) => {
      await moderateComment(deps.dataSource, req.params.id, req.admin!.id, action);
      res.redirect(303, req.body?.back === 'moderation' ? '/admin/moderation' : `/admin/gifts/${req.params.id}`);
    });
  }

  router.get('/moderation', async (req, res) => {
    renderAdmin(req, res, 'admin/gifts/moderation', { title: 'Moderation', section: 'moderation', ...moderationModel(await moderationQueue(deps.dataSource)) });
  });

  async function renderGift(req: Request<{ id: string }>, res: Response, status: number, form: GiftPageForm) {
    const model = await giftPageModel(deps.dataSource, deps.config, req.params.id, form);
    renderAdmin(req, res, 'admin/gifts/show', { section: 'gifts', status, ...model });
  }

  return router;
}
