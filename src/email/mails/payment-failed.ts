import { formatCharge, isSupportedCurrency } from '../../money';
import { param, type MailRenderer } from './mail';
import { loadPlan } from './plan';
import { longDate } from '../../dates';
import { greeting, oneLine } from './words';

/**
 * Stripe's decline codes in plain words. Lost or stolen cards read as a plain decline, as Stripe
 * advises: the donor's bank will say more to them than we should.
 */
const DECLINE_WORDS: Record<string, string> = {
  insufficient_funds: 'your bank said there were not enough funds on the card',
  expired_card: 'the card has expired',
  incorrect_cvc: 'the card\'s security code was not accepted',
  invalid_cvc: 'the card\'s security code was not accepted',
  incorrect_number: 'the card number was not accepted',
  invalid_expiry_month: 'the card\'s expiry date was not accepted',
  invalid_expiry_year: 'the card\'s expiry date was not accepted',
  processing_error: 'an error occurred while the bank processed it',
  authentication_required: 'your bank asked for a confirmation that cannot be given while you are away',
  card_velocity_exceeded: 'the card has reached its spending limit',
  withdrawal_count_limit_exceeded: 'the card has reached its spending limit',
};
const DECLINED = 'your bank declined the payment without giving a reason';

export const declineInWords = (code: string | null) => (code && DECLINE_WORDS[code]) || DECLINED;

/**
 * payment_failed { recurringGiftId, invoiceId, amount, currency, nextAttemptAt }: a renewal could
 * not be charged (once per failed invoice). Says why in plain words and links straight to
 * updating the card: the manage link, with where to go once signed in.
 */
export const renderPaymentFailed: MailRenderer = async (mail, { db, links, templates, org }) => {
  const plan = await loadPlan(db, param(mail, 'recurringGiftId'));
  if (!plan) return { skip: 'the plan no longer exists' };
  if (plan.donorId !== mail.donor.id) return { skip: 'the plan is not this donor\'s' };

  const amountDue = Number(mail.params.amount);
  const currency = param(mail, 'currency');
  const amount = Number.isSafeInteger(amountDue) && amountDue > 0 && currency && isSupportedCurrency(currency)
    ? formatCharge(amountDue, currency)
    : plan.amount;
  const nextAttempt = Number(mail.params.nextAttemptAt);
  const model = {
    greeting: greeting(mail.donor),
    amount,
    adjective: plan.adjective,
    campaignTitle: plan.campaign?.title ?? org.name,
    card: plan.card,
    reason: declineInWords(plan.lastDecline.code),
    nextAttempt: Number.isSafeInteger(nextAttempt) && nextAttempt > 0 ? longDate(new Date(nextAttempt * 1000)) : null,
    updateCardUrl: `${links.manageUrl(mail.donor.id)}?next=/account/recurring/${plan.id}/card`,
  };
  return { subject: oneLine(`Your ${plan.adjective} gift of ${amount} could not be charged`), ...(await templates.render('payment_failed', model)) };
};
