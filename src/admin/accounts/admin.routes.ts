import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Pool } from 'pg';
import { HttpError } from '../../web/errors';
import { csrfProtection, csrfToken, destroySession, regenerateSession, sessionMiddleware } from '../../web/sessions';
import { waitInWords } from '../../web/wait-words';
import { roleAtLeast, type AdminAccount, type AdminAccountsService, type AdminRole } from './admin-accounts.service';

declare module 'express-session' {
  interface SessionData {
    /** When the admin signed in (ms): sessions from before admin_accounts.sessions_valid_after are refused. */
    adminSignedInAt?: number;
  }
}

declare module 'express-serve-static-core' {
  interface Request {
    /** The signed-in admin, under requireAdmin. */
    admin?: AdminAccount;
  }
}

export const ADMIN_COOKIE = 'kettle_admin';
/** An admin session ends after 30 minutes without a request: the console can refund and erase. */
const ADMIN_IDLE_TIMEOUT_MS = 30 * 60 * 1000;
const WRONG_CREDENTIALS = 'That email and password do not match an admin account.';

export interface AdminRoutesDeps {
  pool: Pool;
  sessionSecret: string;
  secureCookies: boolean;
  accounts: AdminAccountsService;
}

/** The admin console, mounted at /admin: its own session cookie, no page kept by any cache. */
export function adminRoutes(deps: AdminRoutesDeps): Router {
  const { accounts } = deps;
  const router = Router();
  router.use(sessionMiddleware(deps.pool, { cookieName: ADMIN_COOKIE, idleTimeoutMs: ADMIN_IDLE_TIMEOUT_MS, secret: deps.sessionSecret, secure: deps.secureCookies }));
  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  router.get('/sign-in', (req, res) => {
    renderSignIn(req, res, 200, { notice: req.query.signed_out === '1' ? 'You have signed out.' : null });
  });

  router.post('/sign-in', csrfProtection, async (req, res) => {
    const email = typeof req.body?.email === 'string' ? req.body.email : '';
    const outcome = await accounts.signIn(req.body?.email, req.body?.password, req.ip ?? 'unknown');
    if (outcome.kind === 'wrong') return renderSignIn(req, res, 401, { email, formError: WRONG_CREDENTIALS });
    if (outcome.kind === 'locked') {
      res.set('Retry-After', String(outcome.retryAfterSeconds));
      return renderSignIn(req, res, 429, { email, formError: `Too many failed sign-ins. Please try again in ${waitInWords(outcome.retryAfterSeconds)}.` });
    }
    await regenerateSession(req);
    req.session.adminId = outcome.account.id;
    req.session.adminSignedInAt = Date.now();
    await saveThenRedirect(req, res, '/admin');
  });

  // Below: a signed-in admin, and on every POST the session's CSRF token.
  router.use(requireSignedIn(accounts));
  router.use(csrfProtection);

  router.get('/', async (req, res) => {
    const admin = req.admin!;
    const isOwner = admin.role === 'owner';
    res.render('admin/index', {
      title: 'Admin',
      admin: { email: admin.email, role: admin.role },
      isOwner,
      audit: isOwner ? (await accounts.latestAudit()).map((e) => ({ ...e, at: new Date(e.at).toISOString().slice(0, 16).replace('T', ' ') })) : [],
      notice: req.query.revoked === '1' ? 'Everyone else has been signed out.' : null,
      csrfToken: csrfToken(req),
    });
  });

  router.post('/sign-out', async (req, res) => {
    await destroySession(req);
    res.clearCookie(ADMIN_COOKIE, { path: '/' });
    res.redirect(303, '/admin/sign-in?signed_out=1');
  });

  // Every other POST changes something: not for viewers.
  router.use(requireRole('admin'));

  router.post('/sessions/revoke-all', requireRole('owner'), async (req, res) => {
    const at = await accounts.revokeAllSessions(req.admin!.id);
    // The owner who pressed the button stays signed in, on a fresh session from that moment.
    await regenerateSession(req);
    req.session.adminId = req.admin!.id;
    req.session.adminSignedInAt = new Date(at).getTime();
    await saveThenRedirect(req, res, '/admin?revoked=1');
  });

  return router;
}

/** A signed-in admin whose session is not revoked; anyone else goes to the sign-in page. */
export function requireSignedIn(accounts: AdminAccountsService): RequestHandler {
  return async (req, res, next) => {
    const { adminId, adminSignedInAt } = req.session;
    const account = adminId && adminSignedInAt ? await accounts.sessionAccount(adminId, adminSignedInAt) : null;
    if (!account) {
      if (adminId) await destroySession(req);
      return res.redirect(303, '/admin/sign-in');
    }
    req.admin = account;
    next();
  };
}

/** Viewers see, admins act, owners also manage accounts: a POST needs at least `role` (403 otherwise). Under requireSignedIn. */
export function requireRole(role: AdminRole): RequestHandler {
  return (req, _res, next) => {
    const admin = req.admin!;
    if (req.method !== 'POST' || roleAtLeast(admin.role, role)) return next();
    next(new HttpError(403, role === 'owner'
      ? 'Only an owner can do this. Ask an owner of this admin console if it needs doing.'
      : 'Your account can see the admin console but not change anything. Ask an owner if you need to act.'));
  };
}

function renderSignIn(req: Request, res: Response, status: number, view: { email?: string; formError?: string; notice?: string | null }): void {
  res.status(status).render('admin/sign-in', {
    title: 'Admin sign-in',
    email: view.email ?? '',
    formError: view.formError ?? null,
    notice: view.notice ?? null,
    csrfToken: csrfToken(req),
  });
}

/** Redirects once the session is stored, so the next request finds the sign-in. */
async function saveThenRedirect(req: Request, res: Response, url: string): Promise<void> {
  await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
  res.redirect(303, url);
}
