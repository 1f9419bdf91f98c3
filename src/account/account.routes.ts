import { Router } from 'express';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { PlanActionsService } from '../donations/plan-actions.service';
import { csrfProtection, destroySession, sessionMiddleware } from '../web/sessions';
import { ACCOUNT_COOKIE, noStore, PRE_SIGN_IN_IDLE_TIMEOUT_MS, redirectAfterSave, requireDonor, setFlash, signedInDonorId, takeCardUpdate } from './account-session';
import { renderAccountPage } from './account-views';
import { planRoutes } from './plan.routes';
import { signInRoutes } from './sign-in.routes';
import type { SignInService } from './sign-in.service';
import { statementRoutes } from './statement.routes';
import type { ReceiptDetails } from './statements.service';

export interface AccountRoutesDeps {
  dataSource: DataSource;
  /** The app's Postgres pool: sessions are rows in web_sessions. */
  pool: Pool;
  sessionSecret: string;
  /** Secure cookies: BASE_URL is https. */
  secureCookies: boolean;
  signIn: SignInService;
  planActions: PlanActionsService;
  /** What statements say about the organisation (legal name, tax id, note). */
  receipts: ReceiptDetails;
}

/** The donor account, mounted at /account: its own session cookie, and no page kept by any cache. */
export function accountRoutes(deps: AccountRoutesDeps): Router {
  const { dataSource, planActions } = deps;
  const router = Router();
  // Sessions start short (before signing in); signInDonor gives the signed-in one its own idle time.
  router.use(sessionMiddleware(deps.pool, { cookieName: ACCOUNT_COOKIE, idleTimeoutMs: PRE_SIGN_IN_IDLE_TIMEOUT_MS, secret: deps.sessionSecret, secure: deps.secureCookies }));
  router.use(noStore);
  router.use(signInRoutes(deps.signIn));

  // Below: a signed-in donor, and on every POST the session's CSRF token.
  router.use(requireDonor);
  router.use(csrfProtection);

  router.get('/', async (req, res) => {
    if (req.query.card === 'updated') {
      // Back from the billing portal with a new card, if this session went there: the plans that
      // paid with the card it replaced take it. Anyone else (a link on another site) just sees the page.
      const update = takeCardUpdate(req);
      if (update) {
        const { failed } = await planActions.useNewCard(signedInDonorId(req), update);
        setFlash(req, failed === 0
          ? 'Your new card is saved. Your recurring gifts below show the card each one uses.'
          : 'Your new card is saved, but we could not check all your gifts just now. If one still shows the old card, use its "Update card" button.');
      }
      return redirectAfterSave(req, res, '/account');
    }
    await renderAccountPage(req, res, dataSource, 200);
  });

  router.post('/sign-out', async (req, res) => {
    await destroySession(req);
    res.clearCookie(ACCOUNT_COOKIE, { path: '/' });
    res.redirect(303, '/account/sign-in?signed_out=1');
  });

  router.use(planRoutes({ dataSource, planActions }));
  router.use(statementRoutes({ dataSource, receipts: deps.receipts }));
  return router;
}
