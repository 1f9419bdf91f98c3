import type { RequestHandler } from 'express';
import { HttpError } from '../web/errors';
import { destroySession } from '../web/sessions';
import { roleAtLeast, type AdminAccount, type AdminAccountsService, type AdminRole } from './accounts/admin-accounts.service';

declare module 'express-session' {
  interface SessionData {
    /** When the admin signed in (ms): sessions from before admin_accounts.sessions_valid_after are refused. */
    adminSignedInAt?: number;
  }
}

declare module 'express-serve-static-core' {
  interface Request {
    /** The signed-in admin, under requireSignedIn. */
    admin?: AdminAccount;
  }
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
    next(new HttpError(403, role === 'owner' && admin.role !== 'viewer'
      ? 'Only an owner can do this. Ask an owner of this admin console if it needs doing.'
      : 'Your account can see the admin console but not change anything. Ask an owner if you need to act.'));
  };
}
