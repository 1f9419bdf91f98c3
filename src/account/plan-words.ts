import type { PlanActionOutcome, PlanChange } from '../donations/plan-actions.service';
import { addMonthsUtc, nextChargeAt } from '../donations/plan-schedule';
import type { RecurringGift } from '../donations/recurring-gift.entity';
import { longDate } from '../dates';
import { formatMoney } from '../money';


const EVERY = { month: 'month', year: 'year' } as const;
export const everyWord = (interval: string | null) => EVERY[interval as keyof typeof EVERY] ?? 'period';
export const frequencyWord = (interval: string | null) => (interval === 'year' ? 'annual' : 'monthly');

export const planAmount = (plan: RecurringGift) => (plan.amount !== null && plan.currency ? formatMoney(plan.amount, plan.currency) : 'Your gift');

/** "Your next gift of $15.00 is on January 1, 2027." — or why there is none. */
export function nextGiftSentence(plan: RecurringGift): string {
  const next = nextChargeAt(plan);
  if (next) return `Your next gift of ${planAmount(plan)} is on ${longDate(next)}.`;
  if (plan.paused) return 'Nothing will be charged until you resume it.';
  return 'Nothing more will be charged.';
}

const LIST = new Intl.ListFormat('en-US', { type: 'conjunction' });

/**
 * "the monthly gift on January 1, 2027 is skipped, and giving starts again on February 1, 2027":
 * the renewals a pause voids (from the current period's end until it lifts), and the first one charged.
 */
export function pauseSentence(plan: RecurringGift): string | null {
  const resumes = nextChargeAt(plan);
  if (!plan.paused || !resumes || !plan.currentPeriodEnd) return null;
  const step = plan.interval === 'year' ? 12 : 1;
  const skipped: Date[] = [];
  for (let i = 0; ; i += 1) {
    const renewal = addMonthsUtc(plan.currentPeriodEnd, step * i);
    if (renewal >= resumes) break;
    skipped.push(renewal);
  }
  const gifts = `${plan.interval === 'year' ? 'yearly' : 'monthly'} gift${skipped.length === 1 ? '' : 's'}`;
  return `the ${gifts} on ${LIST.format(skipped.map(longDate))} ${skipped.length === 1 ? 'is' : 'are'} skipped, and giving starts again on ${longDate(resumes)}`;
}

/** The day a plan set to end stops (its last paid period's end). */
export const endingDate = (plan: RecurringGift) => plan.cancelAt ?? plan.currentPeriodEnd;

export const STALE_PAGE_MESSAGE = 'This page was out of date, so nothing changed. Here is your gift as it is now.';

/** What the account page says after a change: what happens, and from when. */
export function planChangeMessage(change: PlanChange, outcome: Extract<PlanActionOutcome, { plan: RecurringGift }>): string {
  const plan = outcome.plan;
  const amount = planAmount(plan);
  if (outcome.kind === 'stale') return STALE_PAGE_MESSAGE;
  if (outcome.kind === 'unchanged') {
    switch (change.action) {
      case 'amount': return `Your gift is already ${amount} a ${everyWord(plan.interval)}. ${nextGiftSentence(plan)}`;
      case 'frequency': return `Your gift is already ${frequencyWord(plan.interval)}. ${nextGiftSentence(plan)}`;
      case 'resume': return `Your gift is active. ${nextGiftSentence(plan)}`;
      default: return `Your gift is already set to end${endDatePhrase(plan)}. Nothing more will be charged.`;
    }
  }
  switch (change.action) {
    case 'amount':
      return `Your gift is now ${amount} a ${everyWord(plan.interval)}, with no extra charge today. ${nextGiftSentence(plan)}`;
    case 'frequency': {
      const next = nextChargeAt(plan);
      const now = `Your gift is now ${frequencyWord(plan.interval)}: ${amount} a ${everyWord(plan.interval)}`;
      return next
        ? `${now}, from your next gift on ${longDate(next)}. Nothing is charged today.`
        : `${now}. Nothing is charged today. ${nextGiftSentence(plan)}`;
    }
    case 'pause': {
      const skipped = pauseSentence(plan);
      return skipped ? `Your gift is paused: ${skipped}. Nothing is charged until then.` : `Your gift is paused. ${nextGiftSentence(plan)}`;
    }
    case 'resume':
      return `Your gift continues. ${nextGiftSentence(plan)}`;
    case 'cancel':
      return plan.status === 'canceled'
        ? 'Your gift is canceled: nothing more will be charged. We are emailing you a confirmation.'
        : `Your gift will end${endDatePhrase(plan)}: nothing more will be charged. We are emailing you a confirmation. Changed your mind? Choose "Keep my gift" below.`;
  }
}

function endDatePhrase(plan: RecurringGift): string {
  const end = endingDate(plan);
  return end ? ` on ${longDate(end)}` : '';
}
