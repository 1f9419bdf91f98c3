import express, { Router } from 'express';
import type { Logger } from '../../logger';
import { WebhookSignatureError, type WebhookService } from './webhook.service';

/**
 * POST /stripe/webhook. Mounted before any JSON parser: the signature covers the raw bytes.
 * 400 for anything unsigned or forged (nothing stored); 5xx when we could not apply it, so Stripe retries.
 */
export function webhookRoutes(webhooks: WebhookService, logger: Logger): Router {
  const router = Router();
  router.post('/stripe/webhook', express.raw({ type: '*/*', limit: '1mb' }), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let event;
    try {
      event = webhooks.verify(raw, req.get('stripe-signature'));
    } catch (err) {
      if (!(err instanceof WebhookSignatureError)) throw err;
      logger.warn({ reason: err.message }, 'rejected webhook with a bad signature');
      res.status(400).json({ error: 'invalid_signature', message: 'Webhook signature verification failed.' });
      return;
    }
    try {
      const result = await webhooks.receive(event);
      res.status(200).json({ received: true, result });
    } catch {
      res.status(503).json({ error: 'not_applied', message: 'The event could not be applied; please retry.' });
    }
  });
  return router;
}
