import { Router, type Request, type Response } from 'express';
import { csrfProtection, csrfToken, destroySession, regenerateSession } from '../../web/sessions';
import { waitInWords } from '../../web/wait-words';
import { requireRole } from '../admin-access';
import { renderAdmin } from '../admin-view';
import type { AdminAccountsService } from './admin-accounts.service';

export const ADMIN_COOKIE = 'kettle_admin';
const WRONG_CREDENTIALS = 'That email and password do not match an admin account.';

/** The sign-in page and form: the only console pages open to anyone. */
export function adminSignInRoutes(accounts: AdminAccountsService): Router {
  const router = Router();
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
  return router;
}

/** Signing out (any role), and the owners' page: who may sign in, signing everyone out, the audit log. */
export function adminAccountsRoutes(accounts: AdminAccountsService): Router {
  const router = Router();
  router.post('/sign-out', async (req, res) => {
    await destroySession(req);
    res.clearCookie(ADMIN_COOKIE, { path: '/' });
    res.redirect(303, '/admin/sign-in?signed_out=1');
  });

  router.get('/accounts', async (req, res) => {
    const isOwner = req.admin!.role === 'owner';
    renderAdmin(req, res, 'admin/accounts', {
      title: 'Admins',
      section: 'accounts',
      audit: isOwner ? (await accounts.latestAudit()).map((e) => ({ ...e, at: new Date(e.at).toISOString().slice(0, 16).replace('T', ' ') })) : [],
      notice: req.query.revoked === '1' ? 'Everyone else has been signed out.' : null,
    });
  });

  router.post('/sessions/revoke-all', requireRole('owner'), async (req, res) => {
    const at = await accounts.revokeAllSessions(req.admin!.id);
    // The owner who pressed the button stays signed in, on a fresh session from that moment.
    await regenerateSession(req);
    req.session.adminId = req.admin!.id;
    req.session.adminSignedInAt = new Date(at).getTime();
    await saveThenRedirect(req, res, '/admin/accounts?revoked=1');
  });
  return router;
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
