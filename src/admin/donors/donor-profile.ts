import type { DataSource } from 'typeorm';
import { asUuid } from '../../donations/checkout-intent.service';
import { ENDED_STATUSES, nextChargeAt } from '../../donations/plan-schedule';
import { RecurringGift } from '../../donations/recurring-gift.entity';
import { formatCharge } from '../../money';
import { consoleTime } from '../console-time';

/** The most of each list the page shows; the export has everything. */
export const PROFILE_LIMIT = 200;

export interface DonorRow {
  id: string;
  email: string;
  name: string | null;
  createdAt: Date;
  erasedAt: Date | null;
}

/** The donor, or null for an unknown or malformed id. */
export async function findDonor(dataSource: DataSource, idParam: unknown): Promise<DonorRow | null> {
  const id = asUuid(idParam);
  if (!id) return null;
  const [donor] = await dataSource.query(
    `SELECT id, email, name, created_at AS "createdAt", erased_at AS "erasedAt" FROM donors WHERE id = $1`,
    [id],
  );
  return donor ?? null;
}

/** Plans that can still charge: not ended, and not already set to end. Erasure waits for none to be left. */
export const stillCharging = (plan: Pick<RecurringGift, 'status' | 'cancelAtPeriodEnd' | 'cancelAt'>) =>
  !ENDED_STATUSES.has(plan.status) && !plan.cancelAtPeriodEnd && plan.cancelAt === null;

/** Everything the donor page shows, formatted for it. */
export async function donorProfile(dataSource: DataSource, donor: DonorRow) {
  const [gifts, givenRows, plans, emails, consents, customers] = await Promise.all([
    dataSource.query(
      `SELECT g.id, c.title AS "campaignTitle", g.campaign_id AS "campaignId", g.amount::bigint AS amount, g.currency,
              g.frequency, g.renewal, g.source, g.occurred_at AS "occurredAt",
              (g.amount + COALESCE(adj.total, 0))::bigint AS net
         FROM ledger_entries g
         JOIN campaigns c ON c.id = g.campaign_id
         LEFT JOIN LATERAL (SELECT SUM(a.amount) AS total FROM ledger_entries a WHERE a.gift_entry_id = g.id) adj ON true
        WHERE g.donor_id = $1 AND g.kind = 'gift'
        ORDER BY g.occurred_at DESC LIMIT $2`,
      [donor.id, PROFILE_LIMIT],
    ),
    dataSource.query(
      `SELECT currency, SUM(amount)::bigint AS net, COUNT(*) FILTER (WHERE kind = 'gift')::int AS gifts
         FROM ledger_entries WHERE donor_id = $1 GROUP BY currency ORDER BY currency`,
      [donor.id],
    ),
    dataSource.getRepository(RecurringGift).find({ where: { donorId: donor.id }, order: { createdAt: 'DESC' }, take: PROFILE_LIMIT }),
    dataSource.query(
      `SELECT kind, subject, status, attempts, last_error AS "lastError", created_at AS "createdAt", sent_at AS "sentAt"
         FROM email_outbox WHERE donor_id = $1 ORDER BY created_at DESC LIMIT $2`,
      [donor.id, PROFILE_LIMIT],
    ),
    dataSource.query(
      `SELECT i.newsletter, COALESCE(i.completed_at, i.created_at) AS "givenAt", c.title AS "campaignTitle"
         FROM checkout_intents i JOIN campaigns c ON c.id = i.campaign_id
        WHERE i.donor_id = $1 AND i.status = 'completed'
        ORDER BY COALESCE(i.completed_at, i.created_at) DESC LIMIT $2`,
      [donor.id, PROFILE_LIMIT],
    ),
    dataSource.query(
      `SELECT stripe_customer_id AS id, created_at AS "createdAt" FROM donor_stripe_customers WHERE donor_id = $1 ORDER BY created_at`,
      [donor.id],
    ),
  ]);
  const titles = await campaignTitles(dataSource, plans.map((p) => p.campaignId).filter((id): id is string => id !== null));
  // Consent stands until withdrawn: a later gift without the box ticked withdraws nothing.
  const optIns = (consents as { newsletter: boolean; givenAt: Date; campaignTitle: string }[]).filter((c) => c.newsletter);

  return {
    donor: {
      id: donor.id,
      email: donor.email,
      name: donor.name,
      created: consoleTime(donor.createdAt),
      erased: consoleTime(donor.erasedAt),
    },
    given: (givenRows as { currency: string; net: string; gifts: number }[]).map((r) => ({ net: formatCharge(Number(r.net), r.currency), gifts: `${r.gifts} gift${r.gifts === 1 ? '' : 's'}` })),
    gifts: (gifts as GiftRow[]).map((g) => ({
      id: g.id,
      campaignTitle: g.campaignTitle,
      amount: formatCharge(Number(g.amount), g.currency),
      net: formatCharge(Number(g.net), g.currency),
      adjusted: Number(g.net) !== Number(g.amount),
      what: g.source === 'offline' ? 'offline' : g.renewal ? `${g.frequency} renewal` : g.frequency ?? 'gift',
      occurred: consoleTime(g.occurredAt),
    })),
    giftsCapped: gifts.length === PROFILE_LIMIT,
    plans: plans.map((p) => ({
      id: p.id,
      campaignTitle: p.campaignId ? titles.get(p.campaignId) ?? null : null,
      status: p.status,
      amount: p.amount !== null && p.currency ? formatCharge(p.amount, p.currency) : null,
      interval: p.interval,
      nextCharge: consoleTime(nextChargeAt(p)),
      ending: p.cancelAtPeriodEnd || p.cancelAt !== null ? consoleTime(p.cancelAt ?? p.currentPeriodEnd) : null,
      card: p.cardLast4 ? `${p.cardBrand ?? 'card'} •••• ${p.cardLast4} (${p.cardExpMonth}/${p.cardExpYear})` : null,
      decline: p.lastPaymentFailedAt ? {
        at: consoleTime(p.lastPaymentFailedAt),
        code: p.lastDeclineCode,
        message: p.lastDeclineMessage,
        failures: p.failedPaymentCount,
        nextAttempt: consoleTime(p.nextPaymentAttemptAt),
      } : null,
      // The console cancels only what the donor could: a plan that started and has not ended.
      cancelable: !ENDED_STATUSES.has(p.status) && p.status !== 'incomplete' && p.currency !== null,
      canEndAtPeriodEnd: !p.cancelAtPeriodEnd,
    })),
    plansStillCharging: plans.filter(stillCharging).length,
    emails: (emails as EmailRow[]).map((m) => ({
      kind: m.kind,
      subject: m.subject,
      status: m.status,
      attempts: m.attempts,
      note: m.status === 'sent' ? null : m.lastError,
      queued: consoleTime(m.createdAt),
      sent: consoleTime(m.sentAt),
    })),
    consent: {
      digest: optIns.length > 0,
      optIns: optIns.map((c) => ({ at: consoleTime(c.givenAt), campaignTitle: c.campaignTitle })),
    },
    customers: (customers as { id: string; createdAt: Date }[]).map((c) => ({ id: c.id, linked: consoleTime(c.createdAt) })),
  };
}

interface GiftRow {
  id: string;
  campaignTitle: string;
  amount: string;
  net: string;
  currency: string;
  frequency: string | null;
  renewal: boolean;
  source: string;
  occurredAt: Date;
}

interface EmailRow {
  kind: string;
  subject: string | null;
  status: string;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
}

async function campaignTitles(dataSource: DataSource, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows: { id: string; title: string }[] = await dataSource.query(`SELECT id, title FROM campaigns WHERE id = ANY($1)`, [[...new Set(ids)]]);
  return new Map(rows.map((r) => [r.id, r.title]));
}
