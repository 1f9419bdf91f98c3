import path from 'node:path';
import { create } from 'express-handlebars';
import { AccountLinks } from '../../src/account/links';
import type { ReceiptDetails } from '../../src/account/statements.service';
import type { MailRenderContext, MailRow } from '../../src/email/mails/renderer-contract';
import type { TestKettle } from './kettle';

/**
 * Renders a mail's views/emails/<name>.{html,text}.hbs as the catalogue does (HTML escaped, text
 * as typed), without the shared layout: enough to test what a renderer puts in its mail.
 */
export const mailTemplates = {
  html: create({ extname: '.hbs' }),
  text: create({ extname: '.hbs', compilerOptions: { noEscape: true } }),
  async render(name: string, model: Record<string, unknown>): Promise<{ html: string; text: string }> {
    const file = (kind: string) => path.resolve(__dirname, '../../views/emails', `${name}.${kind}.hbs`);
    const [html, text] = await Promise.all([this.html.render(file('html'), model), this.text.render(file('text'), model)]);
    return { html, text };
  },
};

/** The links mails carry, signed as the test app signs them. */
export const testLinks = (kettle: TestKettle) => new AccountLinks(kettle.baseUrl, 'x'.repeat(32));

/** What a mail renderer is given: this Kettle's database and links, the organisation. */
export const mailContext = (kettle: TestKettle, receipts: ReceiptDetails = kettle.config.receipts): MailRenderContext => ({
  db: kettle.dataSource.manager, links: testLinks(kettle), templates: mailTemplates, org: { name: 'Test Newsroom', receipts },
});

/** An outbox row for a donor, as the mail worker hands it to a renderer. */
export async function mailFor(kettle: TestKettle, donorId: string, params: MailRow['params']): Promise<MailRow> {
  const [donor] = await kettle.dataSource.query(`SELECT id, email, name FROM donors WHERE id = $1`, [donorId]);
  return { donor, params };
}
