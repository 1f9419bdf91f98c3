import 'reflect-metadata';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AccountLinks } from '../src/account/links';
import { RecurringGift } from '../src/donations/recurring-gift.entity';
import { CARDS, deliverEvent, donateAndPay, eventOfType, undeliveredEventsOf } from './helpers/flows';
import { makeCampaign, startTestKettle, type TestKettle } from './helpers/kettle';
import { addressedTo, type TestMailbox } from './helpers/mailbox';

// What a monthly or annual donor hears about their plan: a failed payment (once per invoice),
// a cancellation (once per request), and Stripe giving up. And what Kettle keeps of the plan.

let kettle: TestKettle;
let mailbox: TestMailbox;

beforeAll(async () => {
  kettle = await startTestKettle({ mailbox: true });
  mailbox = kettle.mailbox!;
});
afterAll(() => kettle?.close());

const LONG_DATE = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' });

/** Gives monthly and returns the plan: its Stripe subscription and Kettle's row. */
async function giveMonthly(email: string, amount = '10') {
  const campaign = await makeCampaign(kettle);
  const { sessionId } = await donateAndPay(kettle, campaign, { amount, frequency: 'monthly', email });
  const subscriptionId = (await kettle.stripe.checkout.sessions.retrieve(sessionId)).subscription as string;
  return { campaign, subscriptionId, plan: () => kettle.dataSource.getRepository(RecurringGift).findOneByOrFail({ stripeSubscriptionId: subscriptionId }) };
}

const mailsTo = (email: string, subject?: RegExp) => mailbox.matching(addressedTo(email, subject));

describe('the plan Kettle keeps', () => {
  it('records the card that pays the plan, a pause and when it ends', async () => {
    const { subscriptionId, plan } = await giveMonthly('card@example.org');
    expect(await plan()).toMatchObject({
      cardBrand: 'visa', cardLast4: '4242', cardExpMonth: 12, cardExpYear: new Date().getUTCFullYear() + 3, pauseResumesAt: null, cancelAt: null,
    });
    expect((await plan()).stripePaymentMethodId).toMatch(/^pm_/);

    const resumesAt = Math.floor(Date.now() / 1000) + 60 * 86_400;
    await kettle.stripe.subscriptions.update(subscriptionId, { pause_collection: { behavior: 'void', resumes_at: resumesAt } });
    await kettle.settled();
    expect(await plan()).toMatchObject({ paused: true, pauseResumesAt: new Date(resumesAt * 1000) });

    await kettle.stripe.subscriptions.update(subscriptionId, { pause_collection: '' });
    await kettle.settled();
    expect(await plan()).toMatchObject({ paused: false, pauseResumesAt: null });
    expect(mailsTo('card@example.org').map((m) => m.subject)).toEqual(['Receipt for your gift of $10.00 to Test Newsroom']);
  });
});

describe('a failed payment', () => {
  it('mails once per failed invoice, with the decline in plain words and a link straight to updating the card', async () => {
    const { subscriptionId, plan } = await giveMonthly('failing@example.org', '12');
    const events = await undeliveredEventsOf(kettle, () => kettle.emulator.advanceSubscription(subscriptionId, { card: CARDS.failsOnNextCharge }));
    kettle.emulator.setAutoDeliver(true);
    for (const event of events) await deliverEvent(kettle, event);
    await kettle.settled();

    const mail = await mailbox.waitFor(addressedTo('failing@example.org', /could not be charged/));
    const failed = eventOfType(events, 'invoice.payment_failed').data.object as Stripe.Invoice;
    expect(mail.subject).toBe('Your monthly gift of $12.00 could not be charged');
    expect(mail.text).toContain('your bank declined the payment without giving a reason');
    expect(mail.text).toContain(`We will try again on ${LONG_DATE.format(new Date(failed.next_payment_attempt! * 1000))}`);
    const row = await plan();
    expect(row).toMatchObject({ status: 'past_due', lastDeclineCode: 'generic_decline', lastDeclineMessage: 'Your card was declined.', cardLast4: '0341' });

    const prefix = `${kettle.baseUrl}/account/manage/`;
    const link = new URL(mail.links.find((l) => l.startsWith(prefix))!);
    expect(link.searchParams.get('next')).toBe(`/account/recurring/${row.id}/card`);
    const token = new AccountLinks(kettle.baseUrl, kettle.config.sessionSecret).checkManageToken(link.pathname.split('/').pop()!);
    expect(token).toEqual({ ok: true, value: { donorId: row.donorId } });
    expect(mail.html).toContain(`/account/recurring/${row.id}/card`);

    // Stripe retries the invoice (the same event, and the event again): still one mail for it.
    for (const event of [...events, ...events]) await deliverEvent(kettle, event);
    await kettle.settled();
    expect(mailsTo('failing@example.org', /could not be charged/)).toHaveLength(1);

    // The next invoice fails too: that is another mail.
    await kettle.emulator.advanceSubscription(subscriptionId);
    await kettle.settled();
    expect(mailsTo('failing@example.org', /could not be charged/)).toHaveLength(2);
    expect((await plan()).failedPaymentCount).toBe(2);
  });

  it('tells the donor once when Stripe gives up and ends the plan, with no cancellation confirmation', async () => {
    const { campaign, subscriptionId, plan } = await giveMonthly('gave-up@example.org');
    await kettle.emulator.advanceSubscription(subscriptionId, { card: CARDS.failsOnNextCharge });
    // Stripe's retries fail too; after the last one its settings say "cancel the subscription":
    // it ends with cancellation_details.reason payment_failed.
    for (let retry = 0; retry < 3; retry++) await kettle.emulator.retrySubscription(subscriptionId);
    await kettle.settled();
    expect((await kettle.stripe.subscriptions.retrieve(subscriptionId)).cancellation_details?.reason).toBe('payment_failed');
    // A redelivery of the ending owes nothing more.
    const [deleted] = kettle.emulator.events.filter((e) => e.type === 'customer.subscription.deleted' && (e.data.object as Stripe.Subscription).id === subscriptionId);
    await deliverEvent(kettle, deleted);
    await kettle.settled();

    const mail = await mailbox.waitFor(addressedTo('gave-up@example.org', /has ended/));
    expect(mail.subject).toBe('We could not collect your monthly gift to Test Newsroom: it has ended');
    expect(mail.text).toContain('No further payments will be attempted.');
    expect(mail.links).toContain(`${kettle.baseUrl}/campaigns/${campaign.slug}`);
    expect(mailsTo('gave-up@example.org', /has ended/)).toHaveLength(1);
    const owed = await kettle.dataSource.query(
      `SELECT o.kind FROM email_outbox o JOIN donors d ON d.id = o.donor_id WHERE d.email = 'gave-up@example.org' ORDER BY o.created_at`,
    );
    expect(owed.map((o: { kind: string }) => o.kind)).toEqual(['receipt', 'payment_failed', 'payment_gave_up']);
    expect(await plan()).toMatchObject({ status: 'canceled' });
  });
});

describe('a cancellation', () => {
  it('confirms a cancellation at the end of the period, nothing for an undo, and again for a second cancellation', async () => {
    const { subscriptionId, plan } = await giveMonthly('period-end@example.org', '15');
    const scheduled = await kettle.stripe.subscriptions.update(subscriptionId, { cancel_at_period_end: true });
    await kettle.settled();
    const endsOn = LONG_DATE.format(new Date(scheduled.cancel_at! * 1000));
    const mail = await mailbox.waitFor(addressedTo('period-end@example.org', /will end/));
    expect(mail.subject).toBe(`Your monthly gift to Test Newsroom will end on ${endsOn}`);
    expect(mail.text).toContain(`Your monthly gift of $15.00 a month to Urgent end-of-year fundraising campaign will end on ${endsOn}.`);
    expect(await plan()).toMatchObject({ cancelAtPeriodEnd: true, cancelAt: new Date(scheduled.cancel_at! * 1000), canceledAt: new Date(scheduled.canceled_at! * 1000) });

    await kettle.stripe.subscriptions.update(subscriptionId, { cancel_at_period_end: false });
    await kettle.settled();
    expect(await plan()).toMatchObject({ cancelAtPeriodEnd: false, cancelAt: null, canceledAt: null });
    expect(mailsTo('period-end@example.org', /will end|ended/)).toHaveLength(1);

    // Stripe stamps a cancellation request to the second: the second one comes in a later second.
    await vi.waitFor(() => expect(Math.floor(Date.now() / 1000)).toBeGreaterThan(scheduled.canceled_at!), { timeout: 2_000, interval: 20 });
    await kettle.stripe.subscriptions.update(subscriptionId, { cancel_at_period_end: true });
    await kettle.settled();
    expect(mailsTo('period-end@example.org', /will end/)).toHaveLength(2);
  });

  it('confirms a plan canceled now as ended', async () => {
    const { subscriptionId } = await giveMonthly('cancel-now@example.org');
    const canceled = await kettle.stripe.subscriptions.cancel(subscriptionId);
    await kettle.settled();
    const mail = await mailbox.waitFor(addressedTo('cancel-now@example.org', /has ended/));
    expect(mail.subject).toBe('Your monthly gift to Test Newsroom has ended');
    expect(mail.text).toContain(`has been canceled and ended on ${LONG_DATE.format(new Date(canceled.canceled_at! * 1000))}. No further payments will be taken.`);
    expect(mailsTo('cancel-now@example.org', /ended|will end/)).toHaveLength(1);
  });

  it('sends nothing when the cancellation was undone before the mail went out', async () => {
    const { subscriptionId } = await giveMonthly('undone@example.org');
    const applied = async () => {
      await kettle.emulator.idle();
      await kettle.webhookWorker.drain();
    };
    await kettle.mailWorker.stop();
    try {
      await kettle.stripe.subscriptions.update(subscriptionId, { cancel_at_period_end: true });
      await applied(); // the confirmation is owed…
      await kettle.stripe.subscriptions.update(subscriptionId, { cancel_at_period_end: false });
      await applied(); // …and undone before the worker sends it
    } finally {
      kettle.mailWorker.start();
    }
    await kettle.settled();
    const [row] = await kettle.dataSource.query(
      `SELECT o.status, o.last_error FROM email_outbox o JOIN donors d ON d.id = o.donor_id WHERE d.email = 'undone@example.org' AND o.kind = 'cancel_confirmation'`,
    );
    expect(row).toEqual({ status: 'skipped', last_error: 'the plan is no longer set to end' });
    expect(mailsTo('undone@example.org', /will end/)).toEqual([]);
  });
});
