import { parseGiftAmount, plainText } from '../donations/donation-form';
import type { PlanChange } from '../donations/plan-actions.service';
import type { RecurringGift } from '../donations/recurring-gift.entity';
import { formatMoney, minorToMajorString } from '../money';
import type { PlanFormProblem } from './account-page';

export const PLAN_ACTIONS = ['amount', 'frequency', 'pause', 'resume', 'cancel'] as const;
export type PlanAction = (typeof PLAN_ACTIONS)[number];

const REASON_MAX = 500;
const NONCE = /^[A-Za-z0-9_-]{22}$/;

export type PlanFormResult = { ok: true; change: PlanChange } | { ok: false; problem: Omit<PlanFormProblem, 'planId'> };

export type PlanInterval = 'month' | 'year';

/**
 * What a plan's gift comes to at another interval, giving the same each year: an annual gift
 * split in twelve (to the currency's minor unit, half up), a monthly one times twelve.
 */
export function amountAtInterval(amount: number, from: string | null, to: PlanInterval): number {
  if (from === to) return amount;
  return to === 'month' ? Math.floor((amount + 6) / 12) : amount * 12;
}

/**
 * Reads one plan form. Amounts keep the donate form's limits in the plan's currency; the
 * choices are the ones the page offers; the reason is plain text (invisible characters gone),
 * optional and bounded, because it is sent to Stripe and shown to staff.
 */
export function parsePlanForm(action: PlanAction, body: Record<string, unknown>, plan: Pick<RecurringGift, 'amount' | 'interval'> & { currency: string }): PlanFormResult {
  const bad = (field: PlanFormProblem['field'], message: string, value?: string): PlanFormResult => ({ ok: false, problem: { field, message, value } });
  const currency = plan.currency;
  switch (action) {
    case 'amount': {
      const text = plainText(body.amount);
      const amount = parseGiftAmount(text, currency);
      return amount.ok ? { ok: true, change: { action, amount: amount.minor } } : bad('amount', amount.error, text ?? '');
    }
    case 'frequency': {
      const frequency = plainText(body.frequency);
      if (frequency !== 'monthly' && frequency !== 'annual') return bad('frequency', 'Choose monthly or annual.');
      const interval = frequency === 'annual' ? 'year' : 'month';
      // The amount at the new interval: as typed, else the same yearly total as now.
      const typed = plainText(body.amount);
      if (typed !== '' && typed !== undefined) {
        const amount = parseGiftAmount(typed, currency);
        return amount.ok ? { ok: true, change: { action, interval, amount: amount.minor } } : bad('frequencyAmount', amount.error, typed ?? '');
      }
      if (plan.amount === null) return bad('frequencyAmount', 'Enter the amount for each gift.', '');
      const converted = amountAtInterval(plan.amount, plan.interval, interval);
      const checked = parseGiftAmount(minorToMajorString(converted, currency), currency);
      if (!checked.ok) {
        return bad('frequencyAmount', `${formatMoney(converted, currency)} a ${interval} would give the same each year, but ${lowerFirst(checked.error)} Enter the amount for each gift.`, minorToMajorString(converted, currency));
      }
      return { ok: true, change: { action, interval, amount: converted } };
    }
    case 'pause': {
      const months = Number(plainText(body.months));
      if (months !== 1 && months !== 2 && months !== 3) return bad('months', 'Choose how many gifts to skip: 1, 2 or 3.');
      return { ok: true, change: { action, months } };
    }
    case 'resume':
      return { ok: true, change: { action } };
    case 'cancel': {
      const when = plainText(body.when) || 'period_end';
      if (when !== 'period_end' && when !== 'now') return bad('when', 'Choose when your gift should end.');
      const reason = plainText(body.reason);
      if (reason === null) return bad('reason', 'Enter your reason as plain text.');
      if (reason && reason.length > REASON_MAX) return bad('reason', `Keep your reason under ${REASON_MAX} characters.`, reason);
      return { ok: true, change: { action, when, reason: reason || null } };
    }
  }
}

/** The random value a page put in its forms, if this one carries a well-formed one. */
export function formNonce(body: Record<string, unknown>): string | null {
  return typeof body.nonce === 'string' && NONCE.test(body.nonce) ? body.nonce : null;
}

const lowerFirst = (text: string) => text.charAt(0).toLowerCase() + text.slice(1);
