import type { DataSource, EntityManager } from 'typeorm';
import { OUTBOX_CHANNEL } from '../email/outbox';
import type { Logger } from '../logger';

/**
 * The rule, on a recurring_gifts row `rg`: a plan that will charge again (active, not set to end,
 * not paused without a date to resume) whose card stops working before that charge. A card is
 * valid through the last day of its expiry month (UTC). A paused plan charges no earlier than it
 * resumes. Past-due plans are left to the failed-payment mails.
 */
const CARD_EXPIRES_BEFORE_NEXT_CHARGE = `
      rg.status IN ('active', 'trialing') AND NOT rg.cancel_at_period_end AND rg.cancel_at IS NULL AND rg.canceled_at IS NULL
  AND rg.donor_id IS NOT NULL AND rg.stripe_payment_method_id IS NOT NULL AND rg.current_period_end IS NOT NULL
  AND rg.card_exp_month BETWEEN 1 AND 12 AND rg.card_exp_year BETWEEN 1970 AND 9999
  AND NOT (rg.paused AND rg.pause_resumes_at IS NULL)
  AND make_timestamptz(rg.card_exp_year, rg.card_exp_month, 1, 0, 0, 0, 'UTC') + interval '1 month'
      <= GREATEST(rg.current_period_end, rg.pause_resumes_at)`;

export interface CardExpirySummary {
  /** Cards on a plan that expire before its next charge. */
  expiringCards: number;
  /** Notices newly queued by this run (the others were queued by an earlier one). */
  queued: number;
}

/**
 * Tells donors, once per card, that the card paying a plan expires before the plan's next charge,
 * so they can update it before a renewal fails. Run daily; safe to run any number of times.
 */
export class CardExpiryService {
  constructor(private readonly dataSource: DataSource, private readonly logger: Logger) {}

  /**
   * Queues a 'card_expiring' mail per expiring card not told about yet (`card_expiring:<payment
   * method>`), in one statement whatever their number. A card paying several plans is told once,
   * about the plan that charges first.
   */
  async queueNotices(): Promise<CardExpirySummary> {
    const [row]: { expiring: string; queued: string }[] = await this.dataSource.query(
      `WITH expiring AS (
         SELECT DISTINCT ON (rg.stripe_payment_method_id) rg.id, rg.donor_id, rg.stripe_payment_method_id
           FROM recurring_gifts rg
          WHERE ${CARD_EXPIRES_BEFORE_NEXT_CHARGE}
          ORDER BY rg.stripe_payment_method_id, rg.current_period_end, rg.id
       ), queued AS (
         INSERT INTO email_outbox (dedupe_key, kind, donor_id, params)
         SELECT 'card_expiring:' || stripe_payment_method_id, 'card_expiring', donor_id,
                jsonb_build_object('recurringGiftId', id, 'paymentMethodId', stripe_payment_method_id)
           FROM expiring ORDER BY 1
         ON CONFLICT (dedupe_key) DO NOTHING
         RETURNING 1
       )
       SELECT (SELECT COUNT(*) FROM expiring) AS expiring, (SELECT COUNT(*) FROM queued) AS queued`,
    );
    const summary = { expiringCards: Number(row.expiring), queued: Number(row.queued) };
    if (summary.queued > 0) await this.dataSource.query(`SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
    this.logger.info(summary, 'queued notices for cards that expire before their plan\'s next charge');
    return summary;
  }
}

export interface ExpiringCard {
  recurringGiftId: string;
  donorId: string;
  amount: number | null;
  currency: string | null;
  /** Stripe's interval: 'month' or 'year'. */
  interval: string | null;
  campaignTitle: string | null;
  card: { brand: string | null; last4: string | null; expMonth: number; expYear: number };
  /** The earliest the plan charges again (its period end, or when a pause ends if later). */
  nextChargeAt: Date;
}

/**
 * The plan and card a 'card_expiring' notice is about, as they are now; null when the notice no
 * longer applies (the plan ended or is set to, the card was replaced or its expiry moved past the
 * next charge). The mail is rendered from this when it is sent.
 */
export async function loadExpiringCard(db: EntityManager, recurringGiftId: string, paymentMethodId: string): Promise<ExpiringCard | null> {
  const [row] = await db.query(
    `SELECT rg.id, rg.donor_id, rg.amount, rg.currency, rg.interval, rg.card_brand, rg.card_last4, rg.card_exp_month, rg.card_exp_year,
            GREATEST(rg.current_period_end, rg.pause_resumes_at) AS next_charge_at, c.title AS campaign_title
       FROM recurring_gifts rg
       LEFT JOIN campaigns c ON c.id = rg.campaign_id
      WHERE rg.id = $1 AND rg.stripe_payment_method_id = $2 AND ${CARD_EXPIRES_BEFORE_NEXT_CHARGE}`,
    [recurringGiftId, paymentMethodId],
  );
  if (!row) return null;
  return {
    recurringGiftId: row.id,
    donorId: row.donor_id,
    amount: row.amount == null ? null : Number(row.amount),
    currency: row.currency?.trim() ?? null,
    interval: row.interval,
    campaignTitle: row.campaign_title,
    card: { brand: row.card_brand, last4: row.card_last4, expMonth: row.card_exp_month, expYear: row.card_exp_year },
    nextChargeAt: row.next_charge_at,
  };
}
