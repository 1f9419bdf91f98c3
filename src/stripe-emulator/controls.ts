/** Test controls: what a donor, the card network or the bank would do, for tests and demos. Same auth as the API. */
import express, { type Router } from 'express';
import { advanceSubscription } from './billing';
import { pay } from './checkout';
import type { EmulatorContext } from './context';
import { disputeCharge } from './disputes';
import { invalidRequest, unrecognizedUrl } from './errors';
import { isRecord, optEnum, optString } from './params';
import { failRefund, REFUND_FAILURE_REASONS } from './refunds';
import { apiErrorHandler, paramsOf, requireTestKey } from './http';

export function controlsRouter(ctx: EmulatorContext): Router {
  const r = express.Router();
  r.use(requireTestKey);
  r.use(express.urlencoded({ extended: true }));
  r.use(express.json());

  r.post('/checkout/:id/pay', async (req, res) => {
    const p = paramsOf(req);
    const card = isRecord(p.card) ? p.card : {};
    const number = optString(card, 'number', 'card[number]') ?? optString(p, 'card_number');
    if (!number) throw invalidRequest('Missing required param: card[number].', 'card[number]', 'parameter_missing');
    res.json(await pay(ctx, req.params.id, { number, email: optString(p, 'email'), name: optString(p, 'name') }));
  });
  r.post('/subscriptions/:id/advance', (req, res) => {
    const p = paramsOf(req);
    const card = isRecord(p.card) ? optString(p.card, 'number', 'card[number]') : optString(p, 'card');
    res.json(advanceSubscription(ctx.store, req.params.id, card ? { card } : {}));
  });
  r.post('/charges/:id/dispute', (req, res) => {
    const outcome = optEnum(paramsOf(req), 'outcome', ['lost', 'won'] as const);
    if (!outcome) throw invalidRequest('Missing required param: outcome.', 'outcome', 'parameter_missing');
    res.json(disputeCharge(ctx.store, req.params.id, outcome));
  });
  r.post('/refunds/:id/fail', (req, res) => {
    const reason = optEnum(paramsOf(req), 'failure_reason', REFUND_FAILURE_REASONS);
    res.json(failRefund(ctx.store, req.params.id, reason));
  });
  r.get('/deliveries', (_req, res) => {
    res.json({ object: 'list', data: [...ctx.webhooks.log].reverse() });
  });
  r.use((req) => {
    throw unrecognizedUrl(req.method, req.originalUrl.split('?')[0]!);
  });
  r.use(apiErrorHandler(ctx));
  return r;
}
