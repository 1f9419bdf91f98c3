import type { EntityManager } from 'typeorm';
import type { AccountLinks } from '../../account/links';
import type { Config } from '../../config';
import type { MailAttachment } from '../mailer';
import type { MailKind } from '../outbox';
import type { MailTemplates } from '../templates';

/** Who a mail goes to: the donor of its outbox row, as they are now. */
export interface MailRecipient {
  id: string;
  email: string;
  name: string | null;
}

/** An outbox row to render: what it is about is named by ids in `params`. */
export interface MailToRender {
  outboxId: string;
  kind: MailKind;
  donor: MailRecipient;
  params: Record<string, unknown>;
}

export interface RenderedMail {
  subject: string;
  html: string;
  text: string;
  attachments?: MailAttachment[];
}

/**
 * A mail's renderer says `skip` when the mail no longer makes sense (the gift is gone, the plan's
 * cancellation was undone, the sign-in link was used): the row is closed as 'skipped' with the reason.
 */
export type RenderOutcome = RenderedMail | { skip: string };

/** What every renderer may use: the database (read only), the account links, the templates, the organisation. */
export interface MailContext {
  db: EntityManager;
  links: AccountLinks;
  templates: MailTemplates;
  org: { name: string; baseUrl: string; receipts: Config['receipts'] };
}

/** One mail of the catalogue: loads what it needs by the ids in params and renders subject, HTML and text. */
export type MailRenderer = (mail: MailToRender, ctx: MailContext) => Promise<RenderOutcome>;

/** A string id from params, or null (params come from JSON: anything may be there). */
export function param(mail: MailToRender, name: string): string | null {
  const value = mail.params[name];
  return typeof value === 'string' && value ? value : typeof value === 'number' ? String(value) : null;
}
