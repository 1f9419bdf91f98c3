import { loadExpiringCard } from '../../donations/card-expiry.service';
import { formatCharge, isSupportedCurrency } from '../../money';
import type { MailOutcome, MailRenderContext, MailRow } from './renderer-contract';

const CARD_BRANDS: Record<string, string> = {
  visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover', jcb: 'JCB', diners: 'Diners Club', unionpay: 'UnionPay',
};
const LONG_DATE = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' });
const MONTH_YEAR = new Intl.DateTimeFormat('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });

/**
 * card_expiring { recurringGiftId, paymentMethodId }: the card paying a plan expires before its
 * next charge (queued once per card by the daily card-expiry job). Says which plan, which card,
 * when the next charge is, and links straight to updating the card. Skipped when, by the time it
 * is sent, the plan ended or the card was replaced.
 */
export async function renderCardExpiringMail(mail: MailRow, { db, links, templates }: MailRenderContext): Promise<MailOutcome> {
  const { recurringGiftId, paymentMethodId } = mail.params;
  if (typeof recurringGiftId !== 'string' || typeof paymentMethodId !== 'string') return { skip: 'the notice names no plan and card' };
  const due = await loadExpiringCard(db, recurringGiftId, paymentMethodId);
  if (!due) return { skip: 'the plan ended, or its card was replaced or no longer expires before the next charge' };
  if (due.donorId !== mail.donor.id) return { skip: 'the plan is not this donor\'s' };

  const every = due.interval === 'year' ? ' a year' : due.interval === 'month' ? ' a month' : '';
  const adjective = due.interval === 'year' ? 'annual' : due.interval === 'month' ? 'monthly' : 'recurring';
  const card = `${(due.card.brand && CARD_BRANDS[due.card.brand]) || 'Card'} •••• ${due.card.last4 ?? '????'}`;
  const model = {
    greeting: mail.donor.name ? `Dear ${mail.donor.name},` : 'Hello,',
    adjective,
    amount: due.amount != null && due.currency && isSupportedCurrency(due.currency) ? `${formatCharge(due.amount, due.currency)}${every}` : null,
    campaignTitle: due.campaignTitle,
    card,
    expires: MONTH_YEAR.format(new Date(Date.UTC(due.card.expYear, due.card.expMonth - 1, 1))),
    nextCharge: LONG_DATE.format(due.nextChargeAt),
    updateCardUrl: `${links.manageUrl(mail.donor.id)}?next=/account/recurring/${due.recurringGiftId}/card`,
  };
  return { subject: `Your ${card} expires before your next ${adjective} gift`, ...(await templates.render('card_expiring', model)) };
}
