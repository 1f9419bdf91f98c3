import { Router } from 'express';
import type { DataSource } from 'typeorm';
import { HttpError, NotFoundError } from '../web/errors';
import { renderStatementPdf } from './statement-pdf';
import { statementPageModel, statementPdfFilename } from './statement-page';
import { FIRST_STATEMENT_YEAR, loadStatement, parseStatementYear, type ReceiptDetails } from './statements.service';

export interface StatementRoutesDeps {
  dataSource: DataSource;
  receipts: ReceiptDetails;
}

/**
 * /account/statements/:year (printable page) and /account/statements/:year.pdf, for the signed-in
 * donor (req.session.donorId). Paths are relative to the account area: mount at /account, behind
 * its session middleware, as its other routers are.
 */
export function statementRoutes({ dataSource, receipts }: StatementRoutesDeps): Router {
  const router = Router();

  router.get('/statements/:file', async (req, res) => {
    const donorId = req.session?.donorId;
    if (!donorId) return res.redirect(303, '/account/sign-in');
    res.set('Cache-Control', 'no-store');
    const { year, pdf } = parseStatementFile(req.params.file);
    const statement = await loadStatement(dataSource.manager, donorId, year, receipts);
    if (!statement) return res.redirect(303, '/account/sign-in');
    const page = statementPageModel(statement);
    if (!pdf) return res.render('account/statement', page);
    if (!page.hasGifts) throw new NotFoundError(`We have no gifts from you in ${year}, so there is no statement to download.`);
    res.attachment(statementPdfFilename(year)).type('application/pdf').send(await renderStatementPdf(page));
  });

  return router;
}

/** "2026" or "2026.pdf", for a year from 2000 to next year (a gift made on New Year's Eve somewhere). */
function parseStatementFile(file: string): { year: number; pdf: boolean } {
  const match = /^(.*?)(\.pdf)?$/.exec(file)!;
  const latest = new Date().getUTCFullYear() + 1;
  const parsed = parseStatementYear(match[1], latest);
  if (parsed.ok) return { year: parsed.year, pdf: Boolean(match[2]) };
  if (parsed.reason === 'format') throw new NotFoundError('We could not find that statement. Statements are at addresses like /account/statements/2026.');
  throw new HttpError(400, `Statements are available for the years ${FIRST_STATEMENT_YEAR} to ${latest}.`);
}
