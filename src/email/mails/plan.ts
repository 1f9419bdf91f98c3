import type { EntityManager } from 'typeorm';
import { planAdjective, planAmount } from './words';

/** A recurring gift as its mails tell it: which plan, on what card, where it stands. */
export interface PlanForMail {
  id: string;
  donorId: string | null;
  status: string;
  /** "$10.00 a month" (empty when Stripe never told us the amount). */
  amount: string;
  /** "monthly", "annual". */
  adjective: string;
  cancelAtPeriodEnd: boolean;
  cancelAt: Date | null;
  canceledAt: Date | null;
  currentPeriodEnd: Date | null;
  card: { brand: string; last4: string } | null;
  lastDecline: { code: string | null; message: string | null };
  campaign: { title: string; slug: string } | null;
}

export async function loadPlan(db: EntityManager, recurringGiftId: string | null): Promise<PlanForMail | null> {
  if (!recurringGiftId) return null;
  const [row] = await db.query(
    `SELECT rg.id, rg.donor_id, rg.status, rg.amount, rg.currency, rg.interval, rg.cancel_at_period_end, rg.cancel_at,
            rg.canceled_at, rg.current_period_end, rg.card_brand, rg.card_last4, rg.last_decline_code, rg.last_decline_message,
            c.title AS campaign_title, c.slug AS campaign_slug
       FROM recurring_gifts rg
       LEFT JOIN campaigns c ON c.id = rg.campaign_id
      WHERE rg.id = $1`,
    [recurringGiftId],
  );
  if (!row) return null;
  return {
    id: row.id,
    donorId: row.donor_id,
    status: row.status,
    amount: row.amount != null && row.currency ? planAmount(Number(row.amount), row.currency, row.interval) : '',
    adjective: planAdjective(row.interval),
    cancelAtPeriodEnd: row.cancel_at_period_end,
    cancelAt: row.cancel_at,
    canceledAt: row.canceled_at,
    currentPeriodEnd: row.current_period_end,
    card: row.card_brand && row.card_last4 ? { brand: cardBrandName(row.card_brand), last4: row.card_last4 } : null,
    lastDecline: { code: row.last_decline_code, message: row.last_decline_message },
    campaign: row.campaign_title ? { title: row.campaign_title, slug: row.campaign_slug } : null,
  };
}

const BRANDS: Record<string, string> = {
  visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover', jcb: 'JCB', diners: 'Diners Club', unionpay: 'UnionPay',
};

/** Stripe's "visa" → "Visa". */
export const cardBrandName = (brand: string) => BRANDS[brand] ?? 'Card';
