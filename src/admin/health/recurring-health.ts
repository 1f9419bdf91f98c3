import type { DataSource } from 'typeorm';
import { formatCharge, formatMoney } from '../../money';
import { monthlyShareOfAnnual } from '../dashboard/pace';
import { consoleTime } from '../console-time';

/** The most of each list the page shows (the counts above them are whole). */
export const HEALTH_LIST_LIMIT = 200;
/** Plans ending within this many days are listed as ending soon. */
export const ENDING_SOON_DAYS = 30;

interface PlanRow {
  id: string;
  donorId: string | null;
  donorEmail: string | null;
  donorErased: boolean;
  campaignTitle: string | null;
  status: string;
  amount: string | null;
  currency: string | null;
  interval: string | null;
  failedPaymentCount: number;
  lastPaymentFailedAt: Date | null;
  lastDeclineCode: string | null;
  lastDeclineMessage: string | null;
  nextPaymentAttemptAt: Date | null;
  cardLast4: string | null;
  cardBrand: string | null;
  cardChanged: boolean | null;
  endsAt: Date | null;
  cancelAtPeriodEnd: boolean;
}

const PLAN_COLUMNS = `
  rg.id, rg.donor_id AS "donorId", d.email AS "donorEmail", d.erased_at IS NOT NULL AS "donorErased", c.title AS "campaignTitle",
  rg.status, rg.amount::bigint::text AS amount, rg.currency, rg.interval, rg.failed_payment_count AS "failedPaymentCount",
  rg.last_payment_failed_at AS "lastPaymentFailedAt", rg.last_decline_code AS "lastDeclineCode", rg.last_decline_message AS "lastDeclineMessage",
  rg.next_payment_attempt_at AS "nextPaymentAttemptAt", rg.card_last4 AS "cardLast4", rg.card_brand AS "cardBrand",
  -- The declined card against the plan's card now: another card means the donor (or Stripe) replaced it since.
  CASE WHEN rg.last_decline_payment_method_id IS NULL OR rg.stripe_payment_method_id IS NULL THEN NULL
       ELSE rg.last_decline_payment_method_id <> rg.stripe_payment_method_id END AS "cardChanged",
  COALESCE(rg.cancel_at, rg.current_period_end) AS "endsAt", rg.cancel_at_period_end AS "cancelAtPeriodEnd"`;

const FROM_PLANS = `FROM recurring_gifts rg LEFT JOIN donors d ON d.id = rg.donor_id LEFT JOIN campaigns c ON c.id = rg.campaign_id`;

/**
 * Plans that need a look: past due (Stripe could not collect the latest renewal: its decline,
 * when it tries again, and whether the card was replaced since), and plans set to end within
 * ENDING_SOON_DAYS. Each list walks a partial index (migration 1764530000000).
 */
export async function recurringHealth(dataSource: DataSource) {
  // Each list and its count share one condition (on recurring_gifts as rg); $1 is ENDING_SOON_DAYS.
  const pastDueWhere = `rg.status IN ('past_due', 'unpaid')`;
  const endingSoonWhere = `rg.status NOT IN ('canceled', 'incomplete_expired') AND (rg.cancel_at_period_end OR rg.cancel_at IS NOT NULL)
          AND coalesce(rg.cancel_at, rg.current_period_end) < now() + make_interval(days => $1)`;
  const [pastDue, ending, [counts], active] = await Promise.all([
    dataSource.query(
      `SELECT ${PLAN_COLUMNS} ${FROM_PLANS}
        WHERE ${pastDueWhere}
        ORDER BY rg.last_payment_failed_at DESC NULLS LAST LIMIT $1`,
      [HEALTH_LIST_LIMIT],
    ) as Promise<PlanRow[]>,
    dataSource.query(
      `SELECT ${PLAN_COLUMNS} ${FROM_PLANS}
        WHERE ${endingSoonWhere}
        ORDER BY coalesce(rg.cancel_at, rg.current_period_end) LIMIT $2`,
      [ENDING_SOON_DAYS, HEALTH_LIST_LIMIT],
    ) as Promise<PlanRow[]>,
    dataSource.query(
      `SELECT (SELECT count(*) FROM recurring_gifts rg WHERE ${pastDueWhere})::int AS "pastDue",
              (SELECT count(*) FROM recurring_gifts rg WHERE ${endingSoonWhere})::int AS "endingSoon"`,
      [ENDING_SOON_DAYS],
    ) as Promise<{ pastDue: number; endingSoon: number }[]>,
    activePlans(dataSource),
  ]);
  return {
    active,
    pastDueCount: counts.pastDue,
    endingSoonCount: counts.endingSoon,
    endingSoonDays: ENDING_SOON_DAYS,
    pastDue: pastDue.map((p) => ({
      ...planWords(p),
      failedAt: consoleTime(p.lastPaymentFailedAt),
      declineCode: p.lastDeclineCode,
      declineMessage: p.lastDeclineMessage,
      failures: p.failedPaymentCount,
      nextAttempt: consoleTime(p.nextPaymentAttemptAt),
      cardChanged: p.cardChanged === null ? 'unknown' : p.cardChanged ? 'yes' : 'no',
    })),
    ending: ending.map((p) => ({ ...planWords(p), endsAt: consoleTime(p.endsAt), how: p.cancelAtPeriodEnd ? 'at period end' : 'on a set date' })),
  };
}

/**
 * Plans Stripe is charging (active or trialing, not paused; those set to end count until they do),
 * per currency: how many, and what they bring a month, annual plans at a twelfth (rounded half up,
 * as the dashboard's new plans). One aggregate over recurring_gifts, which holds a row per plan
 * (far fewer than gifts).
 */
async function activePlans(dataSource: DataSource) {
  const rows: { currency: string; monthly: number; annual: number; monthlyAmount: string; annualAmount: string }[] = await dataSource.query(
    `SELECT currency, count(*) FILTER (WHERE interval = 'month')::int AS monthly, count(*) FILTER (WHERE interval = 'year')::int AS annual,
            coalesce(sum(amount) FILTER (WHERE interval = 'month'), 0)::bigint::text AS "monthlyAmount",
            coalesce(sum(amount) FILTER (WHERE interval = 'year'), 0)::bigint::text AS "annualAmount"
       FROM recurring_gifts
      WHERE status IN ('active', 'trialing') AND NOT paused AND amount IS NOT NULL AND currency IS NOT NULL AND interval IN ('month', 'year')
      GROUP BY currency ORDER BY currency`,
  );
  return rows.map((r) => ({
    currencyCode: r.currency.trim().toUpperCase(),
    plans: r.monthly + r.annual,
    monthly: r.monthly,
    annual: r.annual,
    monthlyValue: formatMoney(Number(r.monthlyAmount) + monthlyShareOfAnnual(Number(r.annualAmount)), r.currency.trim()),
  }));
}

function planWords(p: PlanRow) {
  return {
    id: p.id,
    donorId: p.donorId,
    donor: p.donorErased ? 'Erased donor' : p.donorEmail,
    campaignTitle: p.campaignTitle,
    status: p.status,
    amount: p.amount !== null && p.currency ? `${formatCharge(Number(p.amount), p.currency)}${p.interval ? ` / ${p.interval}` : ''}` : null,
    card: p.cardLast4 ? `${p.cardBrand ?? 'card'} •••• ${p.cardLast4}` : null,
  };
}
