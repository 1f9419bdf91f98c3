import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { CardExpiryService } from '../src/donations/card-expiry.service';
import { renderCardExpiringMail } from '../src/email/mails/card-expiring';
import { kettleJobs } from '../src/jobs/schedules';
import { ReconcileService } from '../src/payments/stripe/reconcile.service';
import { RetentionService } from '../src/privacy/retention.service';
import { makeCampaign, startTestKettle, type TestKettle } from './helpers/kettle';
import { ledgerSeed } from './helpers/ledger-seed';
import { mailContext, mailFor, testLinks } from './helpers/mail-render';

const silent = pino({ level: 'silent' });
let kettle: TestKettle;
let campaign: Campaign;
let seed: ReturnType<typeof ledgerSeed>;
beforeAll(async () => {
  kettle = await startTestKettle();
  campaign = await makeCampaign(kettle, { title: 'Keep the night desk open' });
  seed = ledgerSeed(kettle);
});
afterAll(() => kettle?.close());

interface PlanSeed {
  donorId: string;
  /** The card: expiry month and year as Stripe gives them. */
  card: { pm: string; expMonth: number; expYear: number } | null;
  /** When the plan next charges (Stripe's current_period_end). */
  periodEnd: string;
  status?: string;
  cancelAtPeriodEnd?: boolean;
  paused?: boolean;
  resumesAt?: string | null;
  amount?: number;
  interval?: 'month' | 'year';
}

/** A recurring gift as the webhooks keep it, card details included. */
async function plan(p: PlanSeed): Promise<string> {
  const [row] = await kettle.dataSource.query(
    `INSERT INTO recurring_gifts (stripe_subscription_id, campaign_id, donor_id, status, amount, currency, interval, cancel_at_period_end,
        paused, pause_resumes_at, current_period_end, stripe_payment_method_id, card_brand, card_last4, card_exp_month, card_exp_year)
     VALUES ($1, $2, $3, $4, $5, 'usd', $6, $7, $8, $9, $10, $11, 'visa', '4242', $12, $13)
     RETURNING id`,
    [`sub_${randomUUID()}`, campaign.id, p.donorId, p.status ?? 'active', p.amount ?? 10_00, p.interval ?? 'month', p.cancelAtPeriodEnd ?? false,
      p.paused ?? false, p.resumesAt ?? null, p.periodEnd, p.card?.pm ?? null, p.card?.expMonth ?? null, p.card?.expYear ?? null],
  );
  return row.id;
}

const notices = (): Promise<{ dedupe_key: string; donor_id: string; params: { recurringGiftId: string; paymentMethodId: string } }[]> =>
  kettle.dataSource.query(`SELECT dedupe_key, donor_id, params FROM email_outbox WHERE kind = 'card_expiring' ORDER BY dedupe_key`);

const service = () => new CardExpiryService(kettle.dataSource, silent);
const render = async (donorId: string, params: Record<string, unknown>) => renderCardExpiringMail(await mailFor(kettle, donorId, params), mailContext(kettle));

describe('card-expiry notices', () => {
  let ann: string;
  let ben: string;
  let expiring: string;
  let pausedLong: string;

  it('queue once per card, only for active plans whose card expires before their next charge', async () => {
    ann = await seed.donor('ann@example.org', 'Ann <i>Smith</i>');
    ben = await seed.donor('ben@example.org', 'Ben');
    // A card is good through the last day of its expiry month (UTC).
    expiring = await plan({ donorId: ann, card: { pm: 'pm_dec_2026', expMonth: 12, expYear: 2026 }, periodEnd: '2027-01-05T10:00:00Z' });
    // The same card on Ann's annual plan, charging later: one notice for the card, about the plan that charges first.
    await plan({ donorId: ann, card: { pm: 'pm_dec_2026', expMonth: 12, expYear: 2026 }, periodEnd: '2027-06-01T10:00:00Z', interval: 'year', amount: 120_00 });
    await plan({ donorId: ben, card: { pm: 'pm_jan_2027', expMonth: 1, expYear: 2027 }, periodEnd: '2027-01-31T23:59:59Z' });
    await plan({ donorId: ben, card: { pm: 'pm_until_new_year', expMonth: 12, expYear: 2026 }, periodEnd: '2026-12-31T23:59:59Z' });
    const atNewYear = await plan({ donorId: ben, card: { pm: 'pm_at_new_year', expMonth: 12, expYear: 2026 }, periodEnd: '2027-01-01T00:00:00Z' });
    // Plans that will not charge on this card, or whose failures other mails tell: left alone.
    const stale = { expMonth: 1, expYear: 2020 };
    await plan({ donorId: ben, card: { pm: 'pm_canceled', ...stale }, periodEnd: '2027-01-05T10:00:00Z', status: 'canceled' });
    await plan({ donorId: ben, card: { pm: 'pm_ending', ...stale }, periodEnd: '2027-01-05T10:00:00Z', cancelAtPeriodEnd: true });
    await plan({ donorId: ben, card: { pm: 'pm_past_due', ...stale }, periodEnd: '2027-01-05T10:00:00Z', status: 'past_due' });
    await plan({ donorId: ben, card: { pm: 'pm_paused', ...stale }, periodEnd: '2027-01-05T10:00:00Z', paused: true });
    await plan({ donorId: ben, card: null, periodEnd: '2027-01-05T10:00:00Z' });
    // Paused until March: the next charge is no earlier than that, after a card that ends in January.
    pausedLong = await plan({ donorId: ben, card: { pm: 'pm_paused_past_expiry', expMonth: 1, expYear: 2027 }, periodEnd: '2026-12-10T10:00:00Z', paused: true, resumesAt: '2027-03-01T00:00:00Z' });

    expect(await service().queueNotices()).toEqual({ expiringCards: 3, queued: 3 });
    expect(await notices()).toEqual([
      { dedupe_key: 'card_expiring:pm_at_new_year', donor_id: ben, params: { recurringGiftId: atNewYear, paymentMethodId: 'pm_at_new_year' } },
      { dedupe_key: 'card_expiring:pm_dec_2026', donor_id: ann, params: { recurringGiftId: expiring, paymentMethodId: 'pm_dec_2026' } },
      { dedupe_key: 'card_expiring:pm_paused_past_expiry', donor_id: ben, params: { recurringGiftId: pausedLong, paymentMethodId: 'pm_paused_past_expiry' } },
    ]);

    // Daily runs: the same cards are never told twice.
    expect(await service().queueNotices()).toEqual({ expiringCards: 3, queued: 0 });
    expect(await notices()).toHaveLength(3);
  });

  it('run as the daily job', async () => {
    const job = kettleJobs({
      reconcile: new ReconcileService(kettle.dataSource, kettle.stripe, kettle.webhooks, silent),
      retention: new RetentionService(kettle.dataSource, 90, silent),
      cardExpiry: service(),
    }).find((j) => j.name === 'card-expiry-notices')!;
    expect(job.cron).toMatch(/^\d+ \d+ \* \* \*$/);
    expect(await job.run()).toEqual({ expiringCards: 3, queued: 0 });
  });

  it('mail says which plan, which card, when the next charge is, and links straight to updating the card', async () => {
    const mail = await render(ann, { recurringGiftId: expiring, paymentMethodId: 'pm_dec_2026' });
    if ('skip' in mail) throw new Error(mail.skip);
    expect(mail.subject).toBe('Your Visa •••• 4242 expires before your next monthly gift');
    expect(mail.text).toContain('Dear Ann <i>Smith</i>,');
    expect(mail.html).toContain('Dear Ann &lt;i&gt;Smith&lt;/i&gt;,');
    expect(mail.text).toContain('your monthly gift to Keep the night desk open expires before its next payment');
    expect(mail.text).toContain('Gift:         $10.00 a month');
    expect(mail.text).toContain('Card:         Visa •••• 4242, valid through December 2026');
    expect(mail.text).toContain('Next payment: January 5, 2027');

    const url = new URL(/Update your card: (\S+)/.exec(mail.text)![1]);
    expect(url.searchParams.get('next')).toBe(`/account/recurring/${expiring}/card`);
    expect(testLinks(kettle).checkManageToken(url.pathname.split('/').pop()!)).toEqual({ ok: true, value: { donorId: ann } });
  });

  it('mail is skipped once the card was replaced, the plan set to end, or it is someone else\'s', async () => {
    const paused = { recurringGiftId: pausedLong, paymentMethodId: 'pm_paused_past_expiry' };
    expect(await render(ann, paused)).toEqual({ skip: 'the plan is not this donor\'s' });

    await kettle.dataSource.query(`UPDATE recurring_gifts SET cancel_at_period_end = true WHERE id = $1`, [pausedLong]);
    expect(await render(ben, paused)).toMatchObject({ skip: expect.stringContaining('the plan ended') });

    await kettle.dataSource.query(
      `UPDATE recurring_gifts SET stripe_payment_method_id = 'pm_new', card_last4 = '1881', card_exp_year = 2030 WHERE id = $1`, [expiring]);
    const params = { recurringGiftId: expiring, paymentMethodId: 'pm_dec_2026' };
    expect(await render(ann, params)).toMatchObject({ skip: expect.stringContaining('card was replaced') });
    // The new card is good past the next charge: nothing new to tell.
    expect(await service().queueNotices()).toMatchObject({ queued: 0 });
  });
});
