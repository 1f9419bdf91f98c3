import { formatCharge } from '../../money';
import { param, type MailRenderer } from './mail';
import { longDate } from '../../dates';
import { giftReference } from '../../donations/gift-words';
import { greeting, oneLine } from './words';

interface RefundRow {
  donor_id: string | null;
  refunded: string;
  currency: string;
  occurred_at: Date;
  gift_id: string;
  gift_amount: string;
  gift_date: Date;
  refunded_in_all: string;
  net_now: string;
  campaign_title: string;
}

/**
 * refund_notice { entryId }: a refund entry. What this refund returned, and what the gift counts as
 * now, when the mail is rendered, with all its refunds to date. Not "just after this refund":
 * refunds recorded by one event share Stripe's second and the transaction's time, so there is no
 * order among them to tell that by (a $10 and a $20 refund of one event both said "now counts as
 * $70" of a $100 gift). Now is well-defined, and true on the day the donor reads it.
 */
export const renderRefundNotice: MailRenderer = async (mail, { db, links, templates, org }) => {
  const entryId = param(mail, 'entryId');
  const [refund]: RefundRow[] = entryId ? await db.query(
    `SELECT r.donor_id, -r.amount AS refunded, r.currency, r.occurred_at, g.id AS gift_id, g.amount AS gift_amount,
            g.occurred_at AS gift_date, c.title AS campaign_title, a.refunded_in_all, g.amount + a.adjusted AS net_now
       FROM ledger_entries r
       JOIN ledger_entries g ON g.id = r.gift_entry_id
       JOIN campaigns c ON c.id = g.campaign_id
       CROSS JOIN LATERAL (
         SELECT -COALESCE(SUM(amount) FILTER (WHERE kind IN ('refund', 'refund_reversal')), 0) AS refunded_in_all,
                COALESCE(SUM(amount), 0) AS adjusted
           FROM ledger_entries WHERE gift_entry_id = g.id) a
      WHERE r.id = $1 AND r.kind = 'refund'`,
    [entryId],
  ) : [];
  if (!refund) return { skip: 'the refund no longer exists' };
  if (refund.donor_id !== mail.donor.id) return { skip: 'the refund is not this donor\'s' };

  const refunded = formatCharge(Number(refund.refunded), refund.currency);
  const model = {
    greeting: greeting(mail.donor),
    refunded,
    refundDate: longDate(refund.occurred_at),
    giftAmount: formatCharge(Number(refund.gift_amount), refund.currency),
    giftDate: longDate(refund.gift_date),
    campaignTitle: refund.campaign_title,
    reference: giftReference(refund.gift_id),
    netNow: formatCharge(Math.max(0, Number(refund.net_now)), refund.currency),
    refundedInAll: formatCharge(Number(refund.refunded_in_all), refund.currency),
    fullyRefunded: Number(refund.net_now) <= 0,
    manageUrl: links.manageUrl(mail.donor.id),
  };
  return { subject: oneLine(`Refund of ${refunded} from ${org.name}`), ...(await templates.render('refund_notice', model)) };
};
