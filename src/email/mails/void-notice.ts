import { formatCharge } from '../../money';
import { param, type MailRenderer } from './mail';
import { longDate } from '../../dates';
import { giftReference, offlineMethodWords } from '../../donations/gift-words';
import { greeting, oneLine } from './words';

interface VoidRow {
  donor_id: string | null;
  gift_id: string;
  gift_amount: string;
  currency: string;
  gift_date: Date;
  method: string | null;
  campaign_title: string;
}

/**
 * void_notice { entryId }: a void entry. Queued only when the gift's receipt was sent, so the donor
 * who holds a receipt learns it no longer counts (a cheque that bounced, a gift entered by
 * mistake). The admin's reason stays internal: it may name a bank or a colleague.
 */
export const renderVoidNotice: MailRenderer = async (mail, { db, links, templates, org }) => {
  const entryId = param(mail, 'entryId');
  const [row]: VoidRow[] = entryId ? await db.query(
    `SELECT v.donor_id, g.id AS gift_id, g.amount AS gift_amount, g.currency, g.occurred_at AS gift_date, o.method, c.title AS campaign_title
       FROM ledger_entries v
       JOIN ledger_entries g ON g.id = v.gift_entry_id
       JOIN campaigns c ON c.id = g.campaign_id
       LEFT JOIN offline_gifts o ON o.entry_id = g.id
      WHERE v.id = $1 AND v.kind = 'void'`,
    [entryId],
  ) : [];
  if (!row) return { skip: 'the void no longer exists' };
  if (row.donor_id !== mail.donor.id) return { skip: 'the void is not this donor\'s' };

  const giftAmount = formatCharge(Number(row.gift_amount), row.currency);
  const model = {
    greeting: greeting(mail.donor),
    giftAmount,
    giftDate: longDate(row.gift_date),
    method: offlineMethodWords(row.method)?.toLowerCase() ?? null,
    campaignTitle: row.campaign_title,
    reference: giftReference(row.gift_id),
    manageUrl: links.manageUrl(mail.donor.id),
  };
  return { subject: oneLine(`Correction to your receipt from ${org.name}`), ...(await templates.render('void_notice', model)) };
};
