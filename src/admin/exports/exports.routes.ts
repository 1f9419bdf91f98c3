import { Router, type Request, type Response } from 'express';
import { parseStatementYear } from '../../account/statements.service';
import { audit } from '../accounts/admin-accounts.service';
import type { AdminDeps } from '../admin.routes';
import { renderAdmin } from '../admin-view';
import { campaignChoices } from '../gifts/gift-filters';
import { donorsExport, subscribersExport } from './donor-exports';

/**
 * The exports page and the donors and subscribers CSVs. Exports are reads (viewers may download
 * them), yet each one is audited: who took which personal data out, and when.
 */
export function adminExportRoutes(deps: Pick<AdminDeps, 'dataSource' | 'exporter'>): Router {
  const router = Router();

  router.get('/exports', (req, res) => renderExports(req, res, deps.dataSource));

  router.get('/exports/donors.csv', async (req, res) => {
    const fy = typeof req.query.fy === 'string' ? req.query.fy.trim() : '';
    let year: number | null = null;
    if (fy) {
      const latest = new Date().getUTCFullYear() + 1;
      const parsed = parseStatementYear(fy, latest);
      if (!parsed.ok) return renderExports(req, res, deps.dataSource, { status: 400, donorsFy: fy, donorsFyError: `Enter a year from 2000 to ${latest}, like ${latest - 1}.` });
      year = parsed.year;
    }
    await deps.exporter.send(res, donorsExport(year), { onStart: () => audited(req, 'export.donors', { fy: year }) });
  });

  router.get('/exports/subscribers.csv', async (req, res) => {
    await deps.exporter.send(res, subscribersExport(), { onStart: () => audited(req, 'export.subscribers', {}) });
  });

  async function audited(req: Request, action: string, filters: Record<string, unknown>) {
    await audit(deps.dataSource.manager, { adminId: req.admin!.id, action, subjectType: 'export', subjectId: null, after: filters });
  }

  return router;
}

async function renderExports(req: Request, res: Response, dataSource: AdminDeps['dataSource'], form: { status?: number; donorsFy?: string; donorsFyError?: string } = {}): Promise<void> {
  renderAdmin(req, res, 'admin/exports', {
    title: 'Exports',
    section: 'exports',
    status: form.status,
    campaigns: await campaignChoices(dataSource),
    donorsFy: form.donorsFy ?? '',
    donorsFyError: form.donorsFyError ?? null,
    lastYear: new Date().getUTCFullYear() - 1,
  });
}
