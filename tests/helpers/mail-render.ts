import path from 'node:path';
import { AccountLinks } from '../../src/account/links';
import type { ReceiptDetails } from '../../src/account/statements.service';
import type { MailContext, MailToRender } from '../../src/email/mails/mail';
import { MailTemplates } from '../../src/email/templates';
import type { TestKettle } from './kettle';

/** The catalogue's own templates (views/emails), as the mail worker renders them. */
export const mailTemplates = new MailTemplates(path.resolve(__dirname, '../../views/emails'), 'Test Newsroom');

/** The links mails carry, signed as the test app signs them. */
export const testLinks = (kettle: TestKettle) => new AccountLinks(kettle.baseUrl, 'x'.repeat(32));

/** What a mail renderer is given: this Kettle's database and links, the organisation. */
export const mailContext = (kettle: TestKettle, receipts: ReceiptDetails = kettle.config.receipts): MailContext => ({
  db: kettle.dataSource.manager, links: testLinks(kettle), templates: mailTemplates, org: { name: 'Test Newsroom', baseUrl: kettle.baseUrl, receipts },
});

/** An outbox row for a donor, as the mail worker hands it to a renderer. */
export async function mailFor(kettle: TestKettle, donorId: string, params: MailToRender['params'], kind: MailToRender['kind'] = 'statement'): Promise<MailToRender> {
  const [donor] = await kettle.dataSource.query(`SELECT id, email, name FROM donors WHERE id = $1`, [donorId]);
  return { outboxId: '00000000-0000-4000-8000-000000000000', kind, donor, params };
}
