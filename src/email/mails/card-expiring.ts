import { loadExpiringCard } from '../../donations/card-expiry.service';
import { isSupportedCurrency } from '../../money';
import type { MailContext, MailToRender, RenderOutcome } from './mail';
import { cardBrandName } from './plan';
import { longDate } from '../../dates';
import { greeting, oneLine, planAdjective, planAmount } from './words';

const MONTH_YEAR = new Intl.DateTimeFormat('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });

/**
 * card_expiring { recurringGiftId, paymentMethodId }: the card paying a plan expires before its
 * next charge (queued once per card by the daily card-expiry job). Says which plan, which card,
 * when the next charge is, and links straight to updating the card. Skipped when, by the time it
 * is sent, the plan ended or the card was replaced.
 */
export async function renderCardExpiringMail(mail: MailToRender, { db, links, templates }: MailContext): Promise<RenderOutcome> {
  const { recurringGiftId, paymentMethodId } = mail.params;
  if (typeof recurringGiftId !== 'string' || typeof paymentMethodId !== 'string') return { skip: 'the notice names no plan and card' };
  const due = await loadExpiringCard(db, recurringGiftId, paymentMethodId);
  if (!due) return { skip: 'the plan ended, or its card was replaced or no longer expires before the next charge' };
  if (due.donorId !== mail.donor.id) return { skip: 'the plan is not this donor\'s' };

  const adjective = planAdjective(due.interval);
  const card = `${due.card.brand ? cardBrandName(due.card.brand) : 'Card'} •••• ${due.card.last4 ?? '????'}`;
  const model = {
    greeting: greeting(mail.donor),
    adjective,
    amount: due.amount != null && due.currency && isSupportedCurrency(due.currency) ? planAmount(due.amount, due.currency, due.interval) : null,
    campaignTitle: due.campaignTitle,
    card,
    expires: MONTH_YEAR.format(new Date(Date.UTC(due.card.expYear, due.card.expMonth - 1, 1))),
    nextCharge: longDate(due.nextChargeAt),
    updateCardUrl: `${links.manageUrl(mail.donor.id)}?next=/account/recurring/${due.recurringGiftId}/card`,
  };
  return { subject: oneLine(`Your ${card} expires before your next ${adjective} gift`), ...(await templates.render('card_expiring', model)) };
}
