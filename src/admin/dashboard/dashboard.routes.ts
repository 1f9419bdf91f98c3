import { Router } from 'express';
import { renderAdmin } from '../admin-view';

/** The console's landing page. */
export function dashboardRoutes(): Router {
  const router = Router();
  router.get('/', (req, res) => {
    renderAdmin(req, res, 'admin/dashboard', { title: 'Dashboard', section: 'dashboard' });
  });
  return router;
}
