import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../logger';

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

const wantsJson = (path: string) => path.startsWith('/api/') || path.startsWith('/stripe/');

/** Clear words for people, details for the logs only: no stack trace ever reaches a browser. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    let status = 500;
    let message = 'Something went wrong on our side. Please try again in a few minutes.';
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      // body-parser and friends: malformed or oversized requests.
      status = err.status;
      message = status === 413 ? 'That request is too large.' : 'We could not read that request.';
      if (!wantsJson(req.path) && status !== 413) message += ' Please check the form and try again.';
    }
    if (status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) return next(err);
    if (wantsJson(req.path)) {
      res.status(status).json({ error: status >= 500 ? 'server_error' : 'bad_request', message });
      return;
    }
    const heading = status === 404 ? 'Not found' : status < 500 ? 'Please check your request' : 'Sorry';
    res.status(status).render('error', { title: heading, heading, message });
  };
}
