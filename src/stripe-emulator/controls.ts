/** Test controls: what a donor, the card network or the bank would do, for tests and demos. Same auth as the API. */
import express, { type Router } from 'express';
import { advanceSubscription, retrySubscription } from './billing';
import type { CardInput } from './cards';
import { pay } from './checkout';
import type { EmulatorContext } from './context';
import { disputeCharge } from './disputes';
import { invalidRequest, unrecognizedUrl } from './errors';
import { isRecord, optEnum, optInt, optString, type Params } from './params';
import { failRefund, REFUND_FAILURE_REASONS } from './refunds';
import { apiErrorHandler, paramsOf, requireTestKey } from './http';

export function controlsRouter(ctx: EmulatorContext): Router {
  const r = express.Router();
  r.use(requireTestKey);
  r.use(express.urlencoded({ extended: true }));
  r.use(express.json());

  r.post('/checkout/:id/pay', async (req, res) => {
    const p = paramsOf(req);
    const card = cardParam(p);
    if (!card) throw invalidRequest('Missing required param: card[number].', 'card[number]', 'parameter_missing');
    res.json(await pay(ctx, req.params.id, { ...card, email: optString(p, 'email'), name: optString(p, 'name') }));
  });
  r.post('/subscriptions/:id/advance', (req, res) => {
    const card = cardParam(paramsOf(req));
    res.json(advanceSubscription(ctx.store, req.params.id, card ? { card } : {}));
  });
  r.post('/subscriptions/:id/retry', (req, res) => {
    const card = cardParam(paramsOf(req));
    res.json(retrySubscription(ctx.store, req.params.id, card ? { card } : {}));
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

/** `card[number]` (with `card[exp_month]`, `card[exp_year]` optional), or the bare number as `card` or `card_number`. */
function cardParam(p: Params): CardInput | undefined {
  if (!isRecord(p.card)) {
    const number = optString(p, 'card') ?? optString(p, 'card_number');
    return number ? { number } : undefined;
  }
  const card = p.card;
  const number = optString(card, 'number', 'card[number]');
  if (!number) throw invalidRequest('Missing required param: card[number].', 'card[number]', 'parameter_missing');
  // Form bodies carry strings, JSON bodies may carry numbers.
  const int = (name: string) => (typeof card[name] === 'number' ? (card[name] as number) : optInt(card, name, `card[${name}]`));
  return { number, exp_month: int('exp_month'), exp_year: int('exp_year') };
}
