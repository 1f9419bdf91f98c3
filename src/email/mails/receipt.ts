import { MANAGE_LINK_DAYS } from '../../account/links';
import type { Frequency } from '../../campaigns/campaign.entity';
import { formatCharge } from '../../money';
import { param, type MailRenderer } from './mail';
import { giftKind } from '../../donations/gift-words';
import { longDate } from '../../dates';
import { giftReference } from '../../donations/gift-words';
import { greeting, oneLine } from './words';

interface GiftRow {
  donor_id: string | null;
  amount: string;
  currency: string;
  fee_cover_amount: string;
  frequency: Frequency | null;
  renewal: boolean;
  occurred_at: Date;
  campaign_title: string;
  dedication: string | null;
  comment: string | null;
}

/**
 * receipt { entryId }: a counted gift (one-off, first payment of a plan, renewal). What a tax
 * receipt states (amount, date, the organisation's legal name and tax id, the "no goods or
 * services" line), what the donor wrote with it, and the manage link.
 */
export const renderReceipt: MailRenderer = async (mail, { db, links, templates, org }) => {
  const entryId = param(mail, 'entryId');
  const [gift]: GiftRow[] = entryId ? await db.query(
    `SELECT e.donor_id, e.amount, e.currency, e.fee_cover_amount, e.frequency, e.renewal, e.occurred_at,
            c.title AS campaign_title, i.dedication, i.comment
       FROM ledger_entries e
       JOIN campaigns c ON c.id = e.campaign_id
       LEFT JOIN checkout_intents i ON i.id = e.checkout_intent_id
      WHERE e.id = $1 AND e.kind = 'gift'`,
    [entryId],
  ) : [];
  if (!gift) return { skip: 'the gift no longer exists' };
  if (gift.donor_id !== mail.donor.id) return { skip: 'the gift is not this donor\'s' };

  const amount = formatCharge(Number(gift.amount), gift.currency);
  const feeCover = Number(gift.fee_cover_amount);
  const model = {
    greeting: greeting(mail.donor),
    amount,
    date: longDate(gift.occurred_at),
    campaignTitle: gift.campaign_title,
    frequency: giftKind(gift.frequency, gift.renewal),
    reference: giftReference(entryId!),
    feeCover: feeCover > 0 ? formatCharge(feeCover, gift.currency) : null,
    dedication: gift.dedication,
    comment: gift.comment,
    legalName: org.receipts.legalName,
    taxId: org.receipts.taxId,
    note: org.receipts.note,
    manageUrl: links.manageUrl(mail.donor.id),
    manageLinkDays: MANAGE_LINK_DAYS,
    signInUrl: `${org.baseUrl}/account/sign-in`,
  };
  return { subject: oneLine(`Receipt for your gift of ${amount} to ${org.name}`), ...(await templates.render('receipt', model)) };
};
