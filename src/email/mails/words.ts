import { formatCharge } from '../../money';
import type { MailRecipient } from './mail';

/** Words the mails share, so a receipt and a statement say a gift the same way. */

/** "Dear Jane Doe," or "Hello," when we have no name. */
export const greeting = (donor: MailRecipient) => (donor.name ? `Dear ${donor.name},` : 'Hello,');

/** "$10 a month", "$120 a year", from a recurring gift's amount and Stripe interval. */
export function planAmount(amount: number, currency: string, interval: string | null): string {
  const every = interval === 'year' ? ' a year' : interval === 'month' ? ' a month' : '';
  return `${formatCharge(amount, currency)}${every}`;
}

/** "monthly" / "annual" / "recurring", for "your monthly gift". */
export const planAdjective = (interval: string | null) => (interval === 'year' ? 'annual' : interval === 'month' ? 'monthly' : 'recurring');

/** A subject line: one line, whatever a title held. */
export const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();
