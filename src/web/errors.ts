import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../logger';
import { redactUrl } from './redact';

/** An error whose message is written for the person who sees it. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class NotFoundError extends HttpError {
  constructor(message = 'We could not find that page.') {
    super(404, message);
  }
}

export const notFound: RequestHandler = (_req, _res, next) => next(new NotFoundError());

/** Waits that mean "the database is busy or away for now", from pg, pg-pool or TypeORM: retry soon. */
const DATABASE_BUSY_MESSAGES = [
  'timeout exceeded when trying to connect', // pg-pool: no free connection within connectionTimeoutMillis
  'Connection terminated due to connection timeout',
  'Connection terminated unexpectedly',
  'Query read timeout', // pg: no answer within query_timeout (a silent stall)
];
const DATABASE_BUSY_CODES = new Set([
  '57014', // query_canceled: statement_timeout
  '57P01', '57P02', '57P03', // the server is shutting down or starting
  '53300', // too_many_connections
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE',
]);

const DATABASE_BUSY_RETRY_AFTER_SECONDS = 5;

/** True when err (or what it wraps) is the database being busy or unreachable for now. */
export function isDatabaseBusy(err: unknown): boolean {
  for (let e = err as { message?: unknown; code?: unknown; driverError?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; depth += 1) {
    const message = e.message;
    if (typeof message === 'string' && DATABASE_BUSY_MESSAGES.some((m) => message.includes(m))) return true;
    if (typeof e.code === 'string' && DATABASE_BUSY_CODES.has(e.code)) return true;
    e = (e.driverError ?? e.cause) as typeof e;
  }
  return false;
}

const wantsJson = (path: string) => path.startsWith('/api/') || path.startsWith('/stripe/');

/** Clear words for people, details for the logs only: no stack trace ever reaches a browser. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    let status = 500;
    let message = 'Something went wrong on our side. Please try again in a few minutes.';
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else if (isDatabaseBusy(err)) {
      // Overload or an outage, not a bug: say when to come back, as a load balancer expects.
      status = 503;
      message = 'We are very busy right now. Please try again in a few seconds.';
      if (!res.headersSent) res.set('Retry-After', String(DATABASE_BUSY_RETRY_AFTER_SECONDS));
    } else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      // body-parser and friends: malformed or oversized requests.
      status = err.status;
      message = status === 413 ? 'That request is too large.' : 'We could not read that request.';
      if (!wantsJson(req.path) && status !== 413) message += ' Please check the form and try again.';
    }
    if (status === 503) logger.warn({ err: { message: err?.message, code: err?.code }, method: req.method, path: redactUrl(req.path) }, 'database busy or unreachable: answered 503');
    else if (status >= 500) logger.error({ err, method: req.method, path: redactUrl(req.path) }, 'request failed');
    if (res.headersSent) return next(err);
    if (wantsJson(req.path)) {
      res.status(status).json({ error: status === 503 ? 'unavailable' : status >= 500 ? 'server_error' : 'bad_request', message });
      return;
    }
    const heading = status === 404 ? 'Not found' : status < 500 ? 'Please check your request' : 'Sorry';
    res.status(status).render('error', { title: heading, heading, message });
  };
}
