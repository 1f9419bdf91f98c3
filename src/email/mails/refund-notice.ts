import { formatCharge } from '../../money';
import { param, type MailRenderer } from './mail';
import { giftReference, greeting, longDate, oneLine } from './words';

interface RefundRow {
  donor_id: string | null;
  refunded: string;
  currency: string;
  occurred_at: Date;
  gift_id: string;
  gift_amount: string;
  gift_date: Date;
  net_after: string;
  campaign_title: string;
}

/**
 * refund_notice { entryId }: a refund entry. What was returned and what the gift now counts as,
 * just after this refund (adjustments up to its own time, Stripe's to the second, then when Kettle
 * recorded them), so two refunds in a row each say their part.
 */
export const renderRefundNotice: MailRenderer = async (mail, { db, links, templates, org }) => {
  const entryId = param(mail, 'entryId');
  const [refund]: RefundRow[] = entryId ? await db.query(
    `SELECT r.donor_id, -r.amount AS refunded, r.currency, r.occurred_at, g.id AS gift_id, g.amount AS gift_amount,
            g.occurred_at AS gift_date, c.title AS campaign_title,
            g.amount + (SELECT COALESCE(SUM(a.amount), 0) FROM ledger_entries a
                         WHERE a.gift_entry_id = g.id AND (a.occurred_at, a.created_at) <= (r.occurred_at, r.created_at)) AS net_after
       FROM ledger_entries r
       JOIN ledger_entries g ON g.id = r.gift_entry_id
       JOIN campaigns c ON c.id = g.campaign_id
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
    netAfter: formatCharge(Math.max(0, Number(refund.net_after)), refund.currency),
    fullyRefunded: Number(refund.net_after) <= 0,
    manageUrl: links.manageUrl(mail.donor.id),
  };
  return { subject: oneLine(`Refund of ${refunded} from ${org.name}`), ...(await templates.render('refund_notice', model)) };
};
