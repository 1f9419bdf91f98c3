import { renderStatementPdf } from '../../account/statement-pdf';
import { statementPageModel, statementPdfFilename } from '../../account/statement-page';
import { FIRST_STATEMENT_YEAR, loadStatement, statementHasGiving } from '../../account/statements.service';
import type { MailContext, MailToRender, RenderOutcome } from './mail';
import { greeting, oneLine } from './words';

/**
 * statement { year }: a donor's yearly giving statement (`npm run cli -- statements:send`). The
 * totals per currency, a link to the printable statement (the manage link, then the statement
 * page) and the same statement as a PDF. Rendered from the ledger when sent.
 */
export async function renderStatementMail(mail: MailToRender, { db, links, templates, org }: MailContext): Promise<RenderOutcome> {
  const year = Number(mail.params.year);
  if (!Number.isInteger(year) || year < FIRST_STATEMENT_YEAR || year > 9999) return { skip: 'the statement has no valid year' };
  const statement = await loadStatement(db, mail.donor.id, year, org.receipts);
  if (!statement || !statementHasGiving(statement)) return { skip: `nothing left to state for ${year}: every gift was refunded` };

  const page = statementPageModel(statement);
  const model = {
    greeting: greeting(mail.donor),
    year,
    orgName: org.name,
    totals: page.totals,
    anyRefunds: page.anyRefunds,
    legalName: org.receipts.legalName,
    taxId: org.receipts.taxId,
    note: org.receipts.note,
    statementUrl: `${links.manageUrl(mail.donor.id)}?next=/account/statements/${year}`,
    pdfFilename: statementPdfFilename(year),
  };
  const [body, pdf] = await Promise.all([templates.render('statement', model), renderStatementPdf(page)]);
  return {
    subject: oneLine(`Your ${year} giving statement from ${org.name}`),
    ...body,
    attachments: [{ filename: statementPdfFilename(year), contentType: 'application/pdf', content: pdf }],
  };
}
