import { Router, type Request, type Response } from 'express';
import type { DataSource } from 'typeorm';
import type { PlanActionsService } from '../donations/plan-actions.service';
import type { RecurringGift } from '../donations/recurring-gift.entity';
import { NotFoundError } from '../web/errors';
import { redirectAfterSave, setFlash, signedInDonorId } from './account-session';
import { renderAccountPage } from './account-views';
import { formNonce, parsePlanForm, PLAN_ACTIONS, type PlanAction } from './plan-forms';
import { planChangeMessage } from './plan-words';

/**
 * A donor's changes to one of their recurring gifts: each form POSTs here, Stripe makes the
 * change (through PlanActionsService), and the account page says what happens from when. A plan
 * that is not the signed-in donor's is a 404 before anything is read from the form.
 */
export function planRoutes(deps: { dataSource: DataSource; planActions: PlanActionsService }): Router {
  const { dataSource, planActions } = deps;
  const router = Router();
  const planOf = (res: Response) => res.locals.plan as RecurringGift & { currency: string };

  router.param('planId', async (req, res, next, planId: string) => {
    try {
      const plan = await planActions.donorPlan(signedInDonorId(req), planId);
      if (!plan) return next(new NotFoundError('We could not find that gift in your account.'));
      res.locals.plan = plan;
      next();
    } catch (err) {
      next(err);
    }
  });

  // To Stripe's billing portal to replace the card. GET too: the failed-payment mail links here.
  const updateCard = async (req: Request, res: Response) => {
    const plan = planOf(res);
    const outcome = await planActions.cardUpdateUrl(plan, formNonce(req.body ?? {}));
    if (outcome.kind === 'redirect') {
      req.session.cardUpdate = outcome.update;
      return redirectAfterSave(req, res, outcome.url);
    }
    await renderAccountPage(req, res, dataSource, outcome.kind === 'refused' ? 409 : 503, { planId: plan.id, field: 'plan', message: outcome.message });
  };
  router.get('/recurring/:planId/card', updateCard);
  router.post('/recurring/:planId/card', updateCard);

  router.post('/recurring/:planId/:action', async (req, res, next) => {
    const action = String(req.params.action);
    if (!(PLAN_ACTIONS as readonly string[]).includes(action)) return next();
    const plan = planOf(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const form = parsePlanForm(action as PlanAction, body, plan);
    if (!form.ok) return renderAccountPage(req, res, dataSource, 400, { planId: plan.id, ...form.problem });

    const outcome = await planActions.change(plan, form.change, formNonce(body));
    if (outcome.kind === 'refused' || outcome.kind === 'provider_failed') {
      return renderAccountPage(req, res, dataSource, outcome.kind === 'refused' ? 409 : 503, { planId: plan.id, field: 'plan', message: outcome.message });
    }
    setFlash(req, planChangeMessage(form.change, outcome));
    await redirectAfterSave(req, res, `/account#plan-${plan.id}`);
  });

  return router;
}
