import { Router } from 'express';
import type { DataSource } from 'typeorm';
import { renderAdmin } from '../admin-view';
import { dashboardPageModel } from './dashboard-page';
import { DashboardService } from './dashboard.service';

/** The console's landing page and each campaign's live dashboard (its figures also as stats.json for the page's script). */
export function dashboardRoutes(deps: { dataSource: DataSource }): Router {
  const router = Router();
  const dashboard = new DashboardService(deps.dataSource);

  router.get('/', async (req, res) => {
    const slug = await dashboard.currentCampaignSlug();
    if (slug) return res.redirect(303, `/admin/campaigns/${slug}`);
    renderAdmin(req, res, 'admin/dashboard-empty', { title: 'Dashboard', section: 'dashboard' });
  });

  router.get('/campaigns/:slug', async (req, res, next) => {
    // /admin/campaigns/new is the campaign form's, whichever router is mounted first.
    if (req.params.slug === 'new') return next();
    renderAdmin(req, res, 'admin/dashboard', dashboardPageModel(await dashboard.statsFor(req.params.slug)));
  });

  router.get('/campaigns/:slug/stats.json', async (req, res) => {
    res.json(await dashboard.statsFor(req.params.slug));
  });

  return router;
}
