import connectPgSimple from 'connect-pg-simple';
import { csrfSync } from 'csrf-sync';
import type { RequestHandler } from 'express';
import session from 'express-session';
import type { Pool } from 'pg';
import { HttpError } from './errors';

declare module 'express-session' {
  interface SessionData {
    /** The signed-in donor (account pages). */
    donorId?: string;
    /** The signed-in admin account (admin console). */
    adminId?: string;
  }
}

export interface SessionOptions {
  /** The cookie's name: donor and admin sessions are separate cookies with their own lifetimes. */
  cookieName: string;
  /** The session ends after this long without a request (rolling). */
  idleTimeoutMs: number;
  /** Signs the cookie (SESSION_SECRET). */
  secret: string;
  /** Secure cookies: true when BASE_URL is https. */
  secure: boolean;
}

const PgSessionStore = connectPgSimple(session);

/**
 * Sessions for people who sign in (donors, admins), kept in Postgres (web_sessions) so any
 * instance serves them. Nothing is stored or sent until a session is used (saveUninitialized
 * false), so pages that do not sign anyone in set no cookie. Expired rows are purged by the
 * retention job, not by a timer in every instance.
 */
export function sessionMiddleware(pool: Pool, opts: SessionOptions): RequestHandler {
  return session({
    name: opts.cookieName,
    secret: opts.secret,
    store: new PgSessionStore({ pool, tableName: 'web_sessions', createTableIfMissing: false, pruneSessionInterval: false }),
    resave: false,
    saveUninitialized: false,
    rolling: true,
    unset: 'destroy',
    cookie: { httpOnly: true, sameSite: 'lax', secure: opts.secure, maxAge: opts.idleTimeoutMs, path: '/' },
  });
}

/** Starts a fresh session for someone who just proved who they are (no fixation of an earlier id). */
export function regenerateSession(req: Express.Request & { session: session.Session }): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
}

export function destroySession(req: Express.Request & { session: session.Session }): Promise<void> {
  return new Promise((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
}

const { generateToken, csrfSynchronisedProtection } = csrfSync({
  // Forms post the token as a hidden field named _csrf.
  getTokenFromRequest: (req) => (typeof req.body?._csrf === 'string' ? req.body._csrf : undefined),
  errorConfig: { statusCode: 403, message: 'This form has expired or did not come from this site. Please go back, reload the page and try again.' },
});

/** The session's CSRF token, for a hidden `_csrf` field in every form that POSTs. */
export const csrfToken = (req: Parameters<typeof generateToken>[0]): string => generateToken(req);

/**
 * Refuses a POST whose `_csrf` field does not match the session's token (403 with words a person
 * understands). Mount after the session and body parsers.
 */
export const csrfProtection: RequestHandler = (req, res, next) => {
  csrfSynchronisedProtection(req, res, (err?: unknown) => {
    if (err) return next(new HttpError(403, (err as Error).message));
    next();
  });
};
