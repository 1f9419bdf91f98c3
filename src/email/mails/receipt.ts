import { MANAGE_LINK_DAYS } from '../../account/links';
import type { Frequency } from '../../campaigns/campaign.entity';
import { formatCharge } from '../../money';
import { param, type MailRenderer } from './mail';
import { giftKind } from '../../donations/gift-words';
import { longDate } from '../../dates';
import { giftReference, offlineMethodWords } from '../../donations/gift-words';
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
  offline: boolean;
  method: string | null;
  payment_reference: string | null;
  voided: boolean;
}

/**
 * receipt { entryId }: a counted gift (one-off, first payment of a plan, renewal, offline). What a tax
 * receipt states (amount, date, the organisation's legal name and tax id, the "no goods or
 * services" line), what the donor wrote with it, and the manage link. An offline gift says how
 * it was paid and when it was received; one voided before its receipt went out gets none.
 */
export const renderReceipt: MailRenderer = async (mail, { db, links, templates, org }) => {
  const entryId = param(mail, 'entryId');
  const [gift]: GiftRow[] = entryId ? await db.query(
    `SELECT e.donor_id, e.amount, e.currency, e.fee_cover_amount, e.frequency, e.renewal, e.occurred_at,
            c.title AS campaign_title, i.dedication, i.comment,
            e.source = 'offline' AS offline, o.method, o.reference AS payment_reference,
            EXISTS (SELECT 1 FROM ledger_entries v WHERE v.gift_entry_id = e.id AND v.kind = 'void') AS voided
       FROM ledger_entries e
       JOIN campaigns c ON c.id = e.campaign_id
       LEFT JOIN checkout_intents i ON i.id = e.checkout_intent_id
       LEFT JOIN offline_gifts o ON o.entry_id = e.id
      WHERE e.id = $1 AND e.kind = 'gift'`,
    [entryId],
  ) : [];
  if (!gift) return { skip: 'the gift no longer exists' };
  if (gift.donor_id !== mail.donor.id) return { skip: 'the gift is not this donor\'s' };
  if (gift.voided) return { skip: 'the gift was voided before its receipt was sent' };

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
    // Offline: "Received on" instead of a card payment's date, how it was paid, and the cheque or transfer's own reference.
    offline: gift.offline,
    paidBy: gift.offline ? offlineMethodWords(gift.method) : null,
    paymentReference: gift.payment_reference,
    legalName: org.receipts.legalName,
    taxId: org.receipts.taxId,
    note: org.receipts.note,
    manageUrl: links.manageUrl(mail.donor.id),
    manageLinkDays: MANAGE_LINK_DAYS,
    signInUrl: `${org.baseUrl}/account/sign-in`,
  };
  return { subject: oneLine(`Receipt for your gift of ${amount} to ${org.name}`), ...(await templates.render('receipt', model)) };
};
