import express, { Router, type RequestHandler, type Response } from 'express';
import type { Logger } from '../../logger';
import { WebhookSignatureError, type WebhookService } from './webhook.service';

/**
 * Stripe's event payloads stay well under 64 KB (an event carries one object; lists inside it are
 * truncated to 10 items). 256 KB leaves four times that for unusual metadata, while a flood of
 * stalled bodies can hold at most 256 KB each, not 1 MB, before the signature can be checked.
 */
export const WEBHOOK_BODY_LIMIT = '256kb';

/**
 * POST /stripe/webhook. Mounted before any JSON parser: the signature covers the raw bytes.
 * 400 for anything unsigned or forged (nothing stored), 413 for an oversized body; 200 once the
 * event is safely in the inbox (the worker applies it); 503 when it could not be stored, so Stripe retries.
 */
export function webhookRoutes(webhooks: WebhookService, logger: Logger): Router {
  const router = Router();
  const refuse = (res: Response, reason: string) => {
    logger.warn({ reason }, 'rejected webhook with a bad signature');
    res.status(400).json({ error: 'invalid_signature', message: 'Webhook signature verification failed.' });
  };
  // Without a signature header nothing can verify: refuse before reading (and buffering) the body.
  const signed: RequestHandler = (req, res, next) => (req.get('stripe-signature') ? next() : refuse(res, 'Missing Stripe-Signature header'));

  router.post('/stripe/webhook', signed, express.raw({ type: '*/*', limit: WEBHOOK_BODY_LIMIT }), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let event;
    try {
      event = webhooks.verify(raw, req.get('stripe-signature'));
    } catch (err) {
      if (!(err instanceof WebhookSignatureError)) throw err;
      refuse(res, err.message);
      return;
    }
    try {
      await webhooks.receive(event);
      res.status(200).json({ received: true });
    } catch (err) {
      logger.error({ err, event: event.id }, 'could not store a stripe event; Stripe will retry');
      res.status(503).json({ error: 'not_stored', message: 'The event could not be stored; please retry.' });
    }
  });
  return router;
}
