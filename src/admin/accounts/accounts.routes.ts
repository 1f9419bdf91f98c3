import { Router, type Request, type Response } from 'express';
import { asUuid } from '../../donations/checkout-intent.service';
import { plainText } from '../../donations/donation-form';
import { NotFoundError } from '../../web/errors';
import { csrfProtection, csrfToken, destroySession, regenerateSession } from '../../web/sessions';
import { waitInWords } from '../../web/wait-words';
import { requireRole } from '../admin-access';
import { renderAdmin } from '../admin-view';
import { ADMIN_ROLES, AdminExistsError, MIN_PASSWORD_LENGTH, type AccountChange, type AdminAccountsService, type AdminRole } from './admin-accounts.service';

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
    await renderAccounts(req, res, accounts, { notice: NOTICES[String(req.query.done)] ?? null });
  });

  router.post('/accounts', requireRole('owner'), async (req, res) => {
    const email = plainText(req.body?.email) ?? '';
    const role = plainText(req.body?.role) ?? '';
    const password = typeof req.body?.password === 'string' ? req.body.password : '';
    const errors: Record<string, string> = {};
    if (email.length > 320 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) errors.email = 'Enter an email address, like someone@example.org.';
    if (!(ADMIN_ROLES as readonly string[]).includes(role)) errors.role = 'Choose viewer, admin or owner.';
    if (password.length < MIN_PASSWORD_LENGTH) errors.password = `The initial password must be at least ${MIN_PASSWORD_LENGTH} characters long.`;
    else if (password.length > 1024) errors.password = 'That password is too long (at most 1,024 characters).';
    if (Object.keys(errors).length === 0) {
      try {
        await accounts.create({ email, role: role as AdminRole, password }, req.admin!.id);
        return res.redirect(303, '/admin/accounts?done=created');
      } catch (err) {
        if (!(err instanceof AdminExistsError)) throw err;
        errors.email = 'There is already an admin account for this email address.';
      }
    }
    // The password is never shown again, even to the owner who typed it.
    await renderAccounts(req, res, accounts, { status: errors.email?.startsWith('There is already') ? 409 : 400, newAccount: { email, role, errors } });
  });

  router.post('/accounts/:id/role', requireRole('owner'), async (req, res) => {
    const role = plainText(req.body?.role) ?? '';
    if (!(ADMIN_ROLES as readonly string[]).includes(role)) {
      return renderAccounts(req, res, accounts, { status: 400, formError: 'Choose viewer, admin or owner.' });
    }
    await answerChange(req, res, accounts, await accounts.changeRole(accountId(req.params.id), role as AdminRole, req.admin!.id), 'role');
  });

  router.post('/accounts/:id/disable', requireRole('owner'), async (req, res) => {
    await answerChange(req, res, accounts, await accounts.setDisabled(accountId(req.params.id), true, req.admin!.id), 'disabled');
  });

  router.post('/accounts/:id/enable', requireRole('owner'), async (req, res) => {
    await answerChange(req, res, accounts, await accounts.setDisabled(accountId(req.params.id), false, req.admin!.id), 'enabled');
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

const NOTICES: Record<string, string> = {
  created: 'The account was created. Give its owner the initial password by a safe route; they sign in at /admin/sign-in.',
  role: 'The role was changed.',
  disabled: 'The account was disabled and its sessions ended.',
  enabled: 'The account was enabled: it can sign in again with its password.',
  unchanged: 'Nothing to change.',
};

/** An account id from the URL: anything not a uuid is no account (404), never a database error. */
function accountId(id: string | string[]): string {
  const uuid = asUuid(id);
  if (!uuid) throw new NotFoundError('There is no such admin account.');
  return uuid;
}

async function answerChange(req: Request, res: Response, accounts: AdminAccountsService, outcome: AccountChange, done: string): Promise<void> {
  if (outcome === 'not_found') throw new NotFoundError('There is no such admin account.');
  if (outcome === 'last_owner') {
    return renderAccounts(req, res, accounts, {
      status: 409,
      formError: 'This is the last enabled owner: someone must be able to manage accounts. Make another account an owner first.',
    });
  }
  res.redirect(303, `/admin/accounts?done=${outcome === 'unchanged' ? 'unchanged' : done}`);
}

/** A JSON value in a few words for the audit table: its start, when long. */
function briefly(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const json = JSON.stringify(value);
  return json.length > 120 ? `${json.slice(0, 119)}…` : json;
}

const minute = (at: Date | null) => (at ? new Date(at).toISOString().slice(0, 16).replace('T', ' ') : null);

async function renderAccounts(
  req: Request,
  res: Response,
  accounts: AdminAccountsService,
  view: { status?: number; notice?: string | null; formError?: string; newAccount?: { email: string; role: string; errors: Record<string, string> } },
): Promise<void> {
  const isOwner = req.admin!.role === 'owner';
  const before = typeof req.query.before === 'string' && /^\d{1,18}$/.test(req.query.before) ? req.query.before : null;
  const audit = isOwner ? await accounts.auditPage(before) : { entries: [], olderFrom: null };
  const newAccount = view.newAccount ?? { email: '', role: 'admin', errors: {} };
  renderAdmin(req, res, 'admin/accounts', {
    title: 'Admins',
    section: 'accounts',
    status: view.status,
    notice: view.notice ?? (req.query.revoked === '1' ? 'Everyone else has been signed out.' : null),
    formError: view.formError ?? null,
    accounts: isOwner ? (await accounts.listAccounts()).map((a) => ({
      id: a.id,
      email: a.email,
      created: minute(a.createdAt),
      disabled: minute(a.disabledAt),
      locked: minute(a.lockedUntil),
      isSelf: a.id === req.admin!.id,
      roles: ADMIN_ROLES.map((role) => ({ role, selected: role === a.role })),
      role: a.role,
    })) : [],
    newAccount: { ...newAccount, roles: ADMIN_ROLES.map((role) => ({ role, selected: role === newAccount.role })) },
    minPasswordLength: MIN_PASSWORD_LENGTH,
    audit: audit.entries.map((e) => ({ ...e, at: minute(e.at), before: briefly(e.before), after: briefly(e.after) })),
    auditOlder: audit.olderFrom ? `/admin/accounts?before=${audit.olderFrom}#audit` : null,
    auditNewest: before ? '/admin/accounts#audit' : null,
  });
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
