import { Router } from 'express';
import type { DataSource } from 'typeorm';
import { HttpError, NotFoundError } from '../../web/errors';
import { renderAdmin } from '../admin-view';
import { recurringHealth } from './recurring-health';
import { isEventId, retryParkedEvent, webhookHealth } from './webhook-health';

/** /admin/recurring and /admin/webhooks: what in recurring giving and in Stripe's webhooks needs a person. */
export function healthRoutes({ dataSource }: { dataSource: DataSource }): Router {
  const router = Router();

  router.get('/recurring', async (req, res) => {
    renderAdmin(req, res, 'admin/recurring', { title: 'Recurring gifts', section: 'recurring', ...(await recurringHealth(dataSource)) });
  });

  router.get('/webhooks', async (req, res) => {
    renderAdmin(req, res, 'admin/webhooks', {
      title: 'Webhooks',
      section: 'webhooks',
      notice: req.query.notice === 'retried' ? 'The event is back in the inbox: the worker applies it in a moment. Reload to see how it went.' : null,
      ...(await webhookHealth(dataSource)),
    });
  });

  router.post('/webhooks/:eventId/retry', async (req, res) => {
    const eventId = req.params.eventId;
    if (!isEventId(eventId)) throw new NotFoundError('There is no such event.');
    const outcome = await retryParkedEvent(dataSource, eventId, req.admin!.id);
    if (outcome === 'not_found') throw new NotFoundError('There is no such event.');
    if (outcome === 'not_parked') throw new HttpError(409, 'This event is not parked as failed: the inbox has it already.');
    if (outcome === 'payload_purged') throw new HttpError(409, 'This event\'s payload was erased with its donor\'s personal data: it can no longer be applied.');
    res.redirect(303, '/admin/webhooks?notice=retried');
  });

  return router;
}
