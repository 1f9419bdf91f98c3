import type { EntityManager } from 'typeorm';
import type { AccountLinks } from '../../account/links';
import type { Config } from '../../config';

/**
 * What the statement and card-expiry renderers need of the mail catalogue, written as the
 * structural subset of the catalogue's own contract (src/email/mails/mail.ts: MailToRender,
 * MailContext, RenderOutcome), which this branch does not have yet: the renderers typed with
 * these are assignable to its MailRenderer. Once both meet, import those types instead and
 * delete this file.
 */
export interface MailRow {
  donor: { id: string; email: string; name: string | null };
  params: Record<string, unknown>;
}

export interface MailRenderContext {
  db: EntityManager;
  links: AccountLinks;
  templates: { render(name: string, model: Record<string, unknown>): Promise<{ html: string; text: string }> };
  org: { name: string; receipts: Config['receipts'] };
}

export type MailOutcome =
  | { subject: string; html: string; text: string; attachments?: { filename: string; contentType: string; content: Buffer }[] }
  /** The mail no longer makes sense (the plan ended, the card was replaced…): closed as skipped with this reason. */
  | { skip: string };
