/** Shared by the API and the test controls: authentication, parameters, Stripe-shaped errors. */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { EmulatorContext } from './context';
import { authError, StripeApiError } from './errors';
import { isRecord, type Params } from './params';

/** Stripe authenticates with `Authorization: Bearer sk_test_…` (or HTTP Basic with the key as user). */
export const requireTestKey: RequestHandler = (req, _res, next) => {
  const header = req.get('authorization');
  if (!header) {
    throw authError("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').");
  }
  const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  const basic = /^Basic\s+(\S+)$/i.exec(header)?.[1];
  const key = bearer ?? (basic ? Buffer.from(basic, 'base64').toString('utf8').split(':')[0] : undefined);
  if (!key || !key.startsWith('sk_test_')) {
    const shown = key ? `${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}` : '';
    throw authError(`Invalid API Key provided: ${shown}. The Kettle Stripe emulator only accepts test keys (sk_test_…).`);
  }
  next();
};

/** GET params arrive in the query string, POST params in the form body. */
export function paramsOf(req: Request): Params {
  const query = isRecord(req.query) ? req.query : {};
  const body = isRecord(req.body) ? req.body : {};
  return { ...query, ...body };
}

export function apiErrorHandler(ctx: EmulatorContext) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    if (err instanceof StripeApiError) {
      res.status(err.status).json(err.toJSON());
      return;
    }
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // body-parser: malformed or oversized body
      res.status(400).json({ error: { type: 'invalid_request_error', message: `Invalid request: ${(err as Error).message}` } });
      return;
    }
    ctx.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'stripe emulator: internal error');
    res.set('Stripe-Should-Retry', 'false');
    res.status(500).json({ error: { type: 'api_error', message: `The Kettle Stripe emulator failed: ${err instanceof Error ? err.message : String(err)}` } });
  };
}
