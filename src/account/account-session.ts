import type { Request, RequestHandler, Response } from 'express';
import type { CardUpdate } from '../donations/plan-actions.service';
import { regenerateSession } from '../web/sessions';

declare module 'express-session' {
  interface SessionData {
    /** One message for the next account page ("Your gift is paused until …"), shown once. */
    flash?: string;
    /**
     * The card update this session started on Stripe's billing portal: only a donor coming back
     * from it moves plans to the new card, once (a link elsewhere to the portal's return address
     * does nothing).
     */
    cardUpdate?: CardUpdate;
  }
}

/** The donor session's cookie (the admin console has its own). */
export const ACCOUNT_COOKIE = 'kettle_account';

/**
 * A donor session ends after two hours without a request. Signing in again costs one click on the
 * link in any receipt, while a long session on a shared or lost device would let the next person
 * see the gifts and stop or change them.
 */
const ACCOUNT_IDLE_TIMEOUT_MS = 2 * 60 * 60 * 1000;

/**
 * A session started before signing in holds only a form's CSRF token (anyone opening the sign-in
 * page or a link, mail scanners included): it ends after 30 minutes without a request, so the rows
 * such visits leave are soon expired and removed by the daily purge.
 */
export const PRE_SIGN_IN_IDLE_TIMEOUT_MS = 30 * 60 * 1000;

/** Signs the donor in on a fresh session (no fixation of the id the sign-in form was served under), good for the signed-in idle time. */
export async function signInDonor(req: Request, donorId: string): Promise<void> {
  await regenerateSession(req);
  req.session.donorId = donorId;
  // Kept with the session (originalMaxAge): each request renews it by this much.
  req.session.cookie.maxAge = ACCOUNT_IDLE_TIMEOUT_MS;
}

/**
 * Redirects once the session is stored. express-session saves while the response ends, after the
 * headers went out: a browser following the 303 at once could arrive before the sign-in or the
 * flash message is stored.
 */
export async function redirectAfterSave(req: Request, res: Response, url: string): Promise<void> {
  await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
  res.redirect(303, url);
}

/** The signed-in donor; only under requireDonor. */
export function signedInDonorId(req: Request): string {
  const donorId = req.session.donorId;
  if (!donorId) throw new Error('signedInDonorId used outside requireDonor');
  return donorId;
}

/** Account pages need a signed-in donor: anyone else is sent to the sign-in page. */
export const requireDonor: RequestHandler = (req, res, next) => {
  if (req.session.donorId) return next();
  res.redirect(303, '/account/sign-in');
};

export function setFlash(req: Request, message: string): void {
  req.session.flash = message;
}

/** The card update this session started, once: taking it forgets it. */
export function takeCardUpdate(req: Request): CardUpdate | null {
  const update = req.session.cardUpdate ?? null;
  if (update) delete req.session.cardUpdate;
  return update;
}

export function takeFlash(req: Request): string | null {
  const message = req.session.flash ?? null;
  if (message !== null) delete req.session.flash;
  return message;
}

/**
 * Where to go after signing in: `next` when it is a path of the account pages on this site (as the
 * failed-payment mail's link to the card update), else the account page. Never another site.
 */
export function safeNextPath(value: unknown): string {
  if (typeof value !== 'string' || value.length > 200) return '/account';
  return /^\/account(?:\/[A-Za-z0-9_-]+)*\/?(?:\?[A-Za-z0-9_=&-]*)?$/.test(value) ? value : '/account';
}

/** Every account page holds personal data or a sign-in token: no cache along the way may keep it. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};
