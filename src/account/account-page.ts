import type { Frequency } from '../campaigns/campaign.entity';
import { longDate } from '../dates';
import { giftKind, offlineMethodWords } from '../donations/gift-words';
import { randomBytes } from 'node:crypto';
import { In, Not, type EntityManager } from 'typeorm';
import { Campaign } from '../campaigns/campaign.entity';
import { addMonthsUtc, nextChargeAt, ENDED_STATUSES } from '../donations/plan-schedule';
import { RecurringGift } from '../donations/recurring-gift.entity';
import { formatCharge, minorToMajorString } from '../money';
import { amountAtInterval } from './plan-forms';
import { endingDate, everyWord, frequencyWord, planAmount } from './plan-words';

/** A plan form that could not be used, shown beside its field on the plan it was sent for. */
export interface PlanFormProblem {
  planId: string;
  /** `frequencyAmount`: the amount field of the frequency form. */
  field: 'amount' | 'frequency' | 'frequencyAmount' | 'months' | 'when' | 'reason' | 'plan';
  message: string;
  /** What the donor typed, shown back in the field. */
  value?: string;
}

/** Plans not yet paid for the first time (an abandoned Checkout) are not the donor's to manage. */
const NOT_STARTED = ['incomplete', 'incomplete_expired'];

const CARD_BRANDS: Record<string, string> = { amex: 'American Express', diners: 'Diners Club', mastercard: 'Mastercard', unionpay: 'UnionPay', jcb: 'JCB' };

/**
 * Everything /account shows a signed-in donor: their gifts (with what was refunded), their plans
 * and what each can do, in words. Null when the donor no longer exists (erased).
 */
export async function accountPageModel(manager: EntityManager, donorId: string, view: { csrfToken: string; flash: string | null; problem?: PlanFormProblem }) {
  const [donor] = await manager.query(`SELECT email, name FROM donors WHERE id = $1`, [donorId]);
  if (!donor) return null;
  const [gifts, plans] = await Promise.all([giftsOf(manager, donorId), plansOf(manager, donorId)]);
  const years = [...new Set(gifts.map((g) => g.year))];
  return {
    title: 'Your gifts',
    donor: { name: donor.name as string | null, email: donor.email as string },
    flash: view.flash,
    csrfToken: view.csrfToken,
    // Sent back with each form: the same form sent twice is one change at Stripe.
    formNonce: randomBytes(16).toString('base64url'),
    gifts: gifts.map(({ year: _year, ...gift }) => gift),
    plans: plans.map((plan) => planView(plan, plans, view.problem?.planId === plan.id ? view.problem : undefined)),
    // Yearly statements, one per calendar year with gifts (routes under /account/statements/).
    statementYears: years,
  };
}

export type AccountPage = NonNullable<Awaited<ReturnType<typeof accountPageModel>>>;

async function giftsOf(manager: EntityManager, donorId: string) {
  const rows: {
    id: string; occurred_at: Date; amount: string; currency: string; frequency: Frequency | null; renewal: boolean; title: string;
    method: string | null; refunded: string; disputed: string; voided: string;
  }[] = await manager.query(
    `SELECT g.id, g.occurred_at, g.amount, g.currency, g.frequency, g.renewal, c.title, o.method,
            -COALESCE(SUM(a.amount) FILTER (WHERE a.kind IN ('refund', 'refund_reversal')), 0) AS refunded,
            -COALESCE(SUM(a.amount) FILTER (WHERE a.kind = 'dispute_lost'), 0) AS disputed,
            -COALESCE(SUM(a.amount) FILTER (WHERE a.kind = 'void'), 0) AS voided
       FROM ledger_entries g
       JOIN campaigns c ON c.id = g.campaign_id
       LEFT JOIN offline_gifts o ON o.entry_id = g.id
       LEFT JOIN ledger_entries a ON a.gift_entry_id = g.id
      WHERE g.donor_id = $1 AND g.kind = 'gift'
      GROUP BY g.id, c.title, o.method
      ORDER BY g.occurred_at DESC, g.id`,
    [donorId],
  );
  return rows.map((row) => {
    const amount = Number(row.amount);
    const refunded = Number(row.refunded);
    const disputed = Number(row.disputed);
    const voided = Number(row.voided);
    const paidBy = offlineMethodWords(row.method);
    // As the receipts and statements state them: "$25.00".
    const money = (minor: number) => formatCharge(minor, row.currency);
    return {
      year: row.occurred_at.getUTCFullYear(),
      date: longDate(row.occurred_at),
      campaign: row.title,
      kind: paidBy ? `${giftKind(row.frequency, row.renewal)} (${paidBy.toLowerCase()})` : giftKind(row.frequency, row.renewal),
      amount: money(amount),
      refunded: refunded > 0 ? money(refunded) : null,
      disputed: disputed > 0 ? money(disputed) : null,
      // A voided offline gift was cancelled in our records (a cheque that bounced, a mistake): it no longer counts.
      voided: voided > 0 ? money(voided) : null,
      net: money(amount - refunded - disputed - voided),
      reduced: refunded > 0 || disputed > 0 || voided > 0,
    };
  });
}

async function plansOf(manager: EntityManager, donorId: string) {
  const plans = await manager.getRepository(RecurringGift).find({
    where: { donorId, status: Not(In(NOT_STARTED)) },
    order: { createdAt: 'DESC' },
  });
  const campaignIds = [...new Set(plans.flatMap((p) => (p.campaignId ? [p.campaignId] : [])))];
  const campaigns = campaignIds.length ? await manager.getRepository(Campaign).findBy({ id: In(campaignIds) }) : [];
  const titles = new Map(campaigns.map((c) => [c.id, c.title]));
  // Ended plans last: what the donor can still change comes first.
  return plans
    .map((plan) => Object.assign(plan, { campaignTitle: (plan.campaignId && titles.get(plan.campaignId)) || 'Recurring gift' }))
    .sort((a, b) => Number(ENDED_STATUSES.has(a.status)) - Number(ENDED_STATUSES.has(b.status)));
}

function planView(plan: RecurringGift & { campaignTitle: string }, all: RecurringGift[], problem: PlanFormProblem | undefined) {
  const ended = ENDED_STATUSES.has(plan.status);
  const next = nextChargeAt(plan);
  const errors: Partial<Record<PlanFormProblem['field'], string>> = problem ? { [problem.field]: problem.message } : {};
  return {
    id: plan.id,
    campaign: plan.campaignTitle,
    amount: planAmount(plan),
    every: everyWord(plan.interval),
    frequency: frequencyWord(plan.interval),
    status: statusOf(plan),
    // Past due: the status says when the unpaid gift is tried again; the period after it is not next.
    nextCharge: next && plan.status !== 'past_due' ? longDate(next) : null,
    card: ended ? null : cardWords(plan),
    cardDiffers: !ended && cardDiffersFromOthers(plan, all),
    ended,
    errors,
    // Forms, for plans that can still change.
    actions: ended ? null : {
      amountValue: problem?.field === 'amount' && problem.value !== undefined
        ? problem.value
        : plan.amount !== null && plan.currency ? minorToMajorString(plan.amount, plan.currency) : '',
      currencyCode: (plan.currency ?? '').toUpperCase(),
      switchTo: switchView(plan, next, problem),
      pause: !plan.paused && !plan.cancelAtPeriodEnd ? pauseView(plan) : null,
      resumeLabel: plan.paused ? 'Resume my gift now' : plan.cancelAtPeriodEnd ? 'Keep my gift' : null,
      canCancel: !plan.cancelAtPeriodEnd,
      // A gift set to end has no next gift to change; "Keep my gift" comes first.
      canChange: !plan.cancelAtPeriodEnd,
      periodEnd: plan.currentPeriodEnd ? longDate(plan.currentPeriodEnd) : null,
      reasonValue: problem?.field === 'reason' ? problem.value ?? '' : '',
    },
  };
}

/**
 * The pause form: which gift is skipped first. An annual plan is offered one choice, skipping its
 * next yearly gift (a pause of one month from its renewal does that).
 */
function pauseView(plan: RecurringGift) {
  const next = plan.currentPeriodEnd;
  return {
    annual: plan.interval === 'year',
    next: next ? longDate(next) : null,
    yearAfter: next ? longDate(addMonthsUtc(next, 12)) : null,
  };
}

/**
 * The frequency form: the other interval, with the amount that gives the same each year filled
 * in, so the donor sees what they will pay and from when before they press it.
 */
function switchView(plan: RecurringGift, next: Date | null, problem: PlanFormProblem | undefined) {
  const interval = plan.interval === 'year' ? 'month' : 'year';
  const converted = plan.amount !== null && plan.currency ? amountAtInterval(plan.amount, plan.interval, interval) : null;
  return {
    frequency: frequencyWord(interval),
    every: everyWord(interval),
    amount: converted !== null && plan.currency ? formatCharge(converted, plan.currency) : null,
    from: next ? longDate(next) : null,
    value: problem?.field === 'frequencyAmount' && problem.value !== undefined
      ? problem.value
      : converted !== null && plan.currency ? minorToMajorString(converted, plan.currency) : '',
  };
}

function statusOf(plan: RecurringGift): { key: string; label: string } {
  if (plan.status === 'canceled') {
    return { key: 'canceled', label: plan.canceledAt ? `Canceled on ${longDate(plan.canceledAt)}` : 'Canceled' };
  }
  if (plan.status === 'incomplete_expired') return { key: 'canceled', label: 'Never started' };
  if (plan.cancelAtPeriodEnd) {
    const end = endingDate(plan);
    return { key: 'ending', label: end ? `Ending on ${longDate(end)}` : 'Ending at the end of this period' };
  }
  if (plan.status === 'past_due' || plan.status === 'unpaid') {
    const retry = plan.status === 'past_due' && plan.nextPaymentAttemptAt && plan.nextPaymentAttemptAt.getTime() > Date.now()
      ? ` We will try again on ${longDate(plan.nextPaymentAttemptAt)}, with the card shown here.` : '';
    return { key: 'past_due', label: `Past due: your last payment did not go through. Please update your card.${retry}` };
  }
  if (plan.paused) return { key: 'paused', label: plan.pauseResumesAt ? `Paused until ${longDate(plan.pauseResumesAt)}` : 'Paused' };
  return { key: 'active', label: 'Active' };
}

function cardWords(plan: RecurringGift): string | null {
  if (!plan.cardLast4) return null;
  const brand = plan.cardBrand ? CARD_BRANDS[plan.cardBrand] ?? plan.cardBrand.charAt(0).toUpperCase() + plan.cardBrand.slice(1) : 'Card';
  const expiry = plan.cardExpMonth && plan.cardExpYear ? `, expires ${String(plan.cardExpMonth).padStart(2, '0')}/${plan.cardExpYear}` : '';
  return `${brand} ending in ${plan.cardLast4}${expiry}`;
}

/** A card differs when it is not the one most of the donor's other live plans use. */
function cardDiffersFromOthers(plan: RecurringGift, all: RecurringGift[]): boolean {
  const mine = cardWords(plan);
  const others = all.filter((p) => p.id !== plan.id && !ENDED_STATUSES.has(p.status)).map(cardWords).filter((c): c is string => c !== null);
  if (!mine || others.length === 0) return false;
  const counts = new Map<string, number>();
  for (const card of others) counts.set(card, (counts.get(card) ?? 0) + 1);
  const usual = [...counts].sort((a, b) => b[1] - a[1])[0][0];
  return mine !== usual;
}
