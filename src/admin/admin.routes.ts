import { Router, type ErrorRequestHandler } from 'express';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { AccountLinks } from '../account/links';
import type { Config } from '../config';
import type { PlanActionsService } from '../donations/plan-actions.service';
import type { Logger } from '../logger';
import type { Stripe } from '../payments/stripe/stripe-client';
import { HttpError, NotFoundError } from '../web/errors';
import { csrfProtection, sessionMiddleware } from '../web/sessions';
import { renderAdmin } from './admin-view';
import { requireRole, requireSignedIn } from './admin-access';
import type { AdminAccountsService } from './accounts/admin-accounts.service';
import { ADMIN_COOKIE, adminAccountsRoutes, adminSignInRoutes } from './accounts/accounts.routes';
import { adminCampaignRoutes } from './campaigns/campaigns.routes';
import { dashboardRoutes } from './dashboard/dashboard.routes';
import { giftRoutes } from './gifts/gifts.routes';
import { donorsRoutes } from './donors/donors.routes';
import { healthRoutes } from './health/health.routes';
import type { CsvExporter } from './exports/csv-export';
import { adminExportRoutes } from './exports/exports.routes';
import { offlineGiftRoutes } from './offline-gifts/offline-gifts.routes';

/** An admin session ends after 30 minutes without a request: the console can refund and erase. */
const ADMIN_IDLE_TIMEOUT_MS = 30 * 60 * 1000;

export interface AdminDeps {
  config: Config;
  dataSource: DataSource;
  pool: Pool;
  stripe: Stripe;
  logger: Logger;
  sessionSecret: string;
  secureCookies: boolean;
  accounts: AdminAccountsService;
  /** Manage links for donors (the donor page resends one). */
  links: AccountLinks;
  /** Cancelling a plan for a donor goes through the same service as the donor's own button. */
  planActions: PlanActionsService;
  exporter: CsvExporter;
}

/**
 * The admin console, mounted at /admin: its own session cookie, no page kept by any cache.
 * Every page family below the guards is a router of its own (src/admin/<family>/).
 */
export function adminRoutes(deps: AdminDeps): Router {
  const router = Router();
  router.use(sessionMiddleware(deps.pool, { cookieName: ADMIN_COOKIE, idleTimeoutMs: ADMIN_IDLE_TIMEOUT_MS, secret: deps.sessionSecret, secure: deps.secureCookies }));
  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  router.use(adminSignInRoutes(deps.accounts));

  // Below: a signed-in admin, and on every POST the session's CSRF token.
  router.use(requireSignedIn(deps.accounts));
  router.use(csrfProtection);
  router.use(adminAccountsRoutes(deps.accounts));
  // Every POST below changes something: not for viewers (owner-only routes add requireRole('owner')).
  router.use(requireRole('admin'));
  router.use(adminCampaignRoutes(deps.dataSource));
  router.use(adminExportRoutes(deps));
  router.use(dashboardRoutes(deps));
  router.use(giftRoutes(deps));
  router.use(offlineGiftRoutes(deps));
  router.use(donorsRoutes(deps));
  router.use(healthRoutes(deps));
  // A signed-in admin's unknown page or refused request stays in the console (the rest go to the app's error handler).
  router.use((_req, _res, next) => next(new NotFoundError()));
  router.use(((err, req, res, next) => {
    if (!(err instanceof HttpError) || !req.admin || res.headersSent) return next(err);
    const heading = err.status === 404 ? 'Not found' : 'Please check your request';
    renderAdmin(req, res, 'admin/error', { title: heading, section: null, status: err.status, heading, message: err.message });
  }) as ErrorRequestHandler);
  return router;
}
