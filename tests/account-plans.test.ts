import 'reflect-metadata';
import type Stripe from 'stripe';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { RecurringGift } from '../src/donations/recurring-gift.entity';
import { accountForms, accountLinks, donorIdOf, giveMonthly, pathOf, pressLinkButton, signedInAgent, type Agent, type MonthlyGift } from './helpers/account';
import { CARDS, donateAndPay, startDonation } from './helpers/flows';
import { makeCampaign, startTestKettle, type TestKettle } from './helpers/kettle';

let kettle: TestKettle;
let campaign: Campaign;

beforeAll(async () => {
  kettle = await startTestKettle();
  campaign = await makeCampaign(kettle);
});
afterAll(() => kettle?.close());

const LONG_DATE = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' });
const day = (unixSeconds: number) => LONG_DATE.format(new Date(unixSeconds * 1000));
/** Unix seconds `months` calendar months on, at the same time of day (on the month's last day when it is shorter). */
function monthsAfter(unixSeconds: number, months: number): number {
  const from = new Date(unixSeconds * 1000);
  const lastDay = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + months + 1, 0)).getUTCDate();
  return Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + months, Math.min(from.getUTCDate(), lastDay),
    from.getUTCHours(), from.getUTCMinutes(), from.getUTCSeconds()) / 1000;
}

const subscription = (gift: MonthlyGift) => kettle.stripe.subscriptions.retrieve(gift.subscriptionId);
const planRow = (gift: MonthlyGift) => kettle.dataSource.getRepository(RecurringGift).findOneByOrFail({ id: gift.plan.id });
const invoicesOf = async (gift: MonthlyGift) => (await kettle.stripe.invoices.list({ subscription: gift.subscriptionId })).data;
const giftsCharged = async (gift: MonthlyGift): Promise<number[]> =>
  (await kettle.dataSource.query(`SELECT amount FROM ledger_entries WHERE stripe_subscription_id = $1 AND kind = 'gift' ORDER BY occurred_at, created_at`, [gift.subscriptionId]))
    .map((r: { amount: string }) => Number(r.amount));

/** Sends one of the account page's plan forms as the donor's browser would (token and nonce from the page). */
async function sendPlanForm(agent: Agent, gift: MonthlyGift, action: string, fields: Record<string, string> = {}) {
  const { _csrf, nonce } = await accountForms(agent);
  return agent.post(`/account/recurring/${gift.plan.id}/${action}`).type('form').send({ _csrf, nonce, ...fields });
}

/** The account page after a change: the flash message and the plan's status line. */
async function accountAfter(agent: Agent, gift: MonthlyGift) {
  const page = await agent.get('/account');
  const plan = page.text.slice(page.text.indexOf(`id="plan-${gift.plan.id}"`));
  return {
    html: page.text,
    flash: /data-testid="flash">([^<]*)</.exec(page.text)?.[1].replace(/&quot;/g, '"').replace(/&#x27;/g, "'") ?? null,
    status: /data-testid="plan-status">([^<]*)</.exec(plan)?.[1] ?? null,
    heading: /<h3[^>]*>([^<]*)</.exec(plan)?.[1].replace(/&middot;|·/g, '·') ?? null,
    /** The frequency form's line ("Switch to annual: $120.00 a year from …") and its amount field. */
    switchLine: /data-testid="plan-switch">([^<]*)</.exec(plan)?.[1] ?? null,
    switchAmount: /id="frequency-amount-[^"]+" name="amount"[^>]*value="([^"]*)"/.exec(plan)?.[1] ?? null,
  };
}

/** Gives annually through the donate form, as giveMonthly does monthly. */
async function giveAnnual(email: string, amount: string): Promise<MonthlyGift> {
  const started = await donateAndPay(kettle, campaign, { email, amount, frequency: 'annual' });
  const session = await kettle.stripe.checkout.sessions.retrieve(started.sessionId);
  const plan = await kettle.dataSource.getRepository(RecurringGift).findOneByOrFail({ stripeSubscriptionId: session.subscription as string });
  return { donorId: plan.donorId!, plan, subscriptionId: plan.stripeSubscriptionId };
}

/** Renews the plan now (the emulator's test control), and waits until Kettle has counted what it charged. */
async function renew(gift: MonthlyGift) {
  const invoice = await kettle.emulator.advanceSubscription(gift.subscriptionId);
  await kettle.settled();
  return invoice;
}

describe('the account page', () => {
  it('lists every gift with what was refunded and the net, and every plan with its status, next gift and card', async () => {
    const gift = await giveMonthly(kettle, campaign, 'page@example.org', '10');
    const once = await donateAndPay(kettle, campaign, { email: 'page@example.org', amount: '25', frequency: 'once' });
    const session = await kettle.stripe.checkout.sessions.retrieve(once.sessionId);
    await kettle.stripe.refunds.create({ payment_intent: session.payment_intent as string, amount: 500 });
    await kettle.settled();

    const agent = await signedInAgent(kettle, gift.donorId);
    const page = await agent.get('/account');
    expect(page.status).toBe(200);
    const row = /<tr>\s*<td>[^<]*<\/td>\s*<td>[^<]*<\/td>\s*<td>One-off gift<\/td>\s*<td>\$25\.00<\/td>\s*<td>\$5\.00<\/td>\s*<td>\$20\.00<\/td>/;
    expect(page.text).toMatch(row);
    expect(page.text).toMatch(/<td>Monthly gift \(first payment\)<\/td>\s*<td>\$10\.00<\/td>\s*<td>—<\/td>\s*<td>\$10\.00<\/td>/);
    expect(page.text).toContain('Urgent end-of-year fundraising campaign');

    const sub = await subscription(gift);
    const view = await accountAfter(agent, gift);
    expect(view.heading).toBe('$10 every month · Urgent end-of-year fundraising campaign');
    expect(view.status).toBe('Active');
    expect(page.text).toContain(`data-testid="plan-next">${day(sub.items.data[0].current_period_end)}<`);
    expect(page.text).toMatch(/data-testid="plan-card">Visa ending in 4242, expires \d\d\/\d{4}</);
    const year = new Date().getUTCFullYear();
    expect(page.text).toContain(`<a href="/account/statements/${year}">`);

    // The year's statement, as a page and a PDF, for the signed-in donor only.
    const statement = await agent.get(`/account/statements/${year}`);
    expect(statement.status).toBe(200);
    expect(statement.headers['cache-control']).toBe('no-store');
    expect(statement.text).toContain(`Giving statement ${year}`);
    const pdf = await agent.get(`/account/statements/${year}.pdf`).buffer(true);
    expect(pdf.status).toBe(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    const stranger = await request(kettle.app).get(`/account/statements/${year}`);
    expect(stranger.status).toBe(303);
    expect(stranger.headers.location).toBe('/account/sign-in');
  });
});

describe("another donor's plan", () => {
  let owner: MonthlyGift;
  let stranger: Agent;

  beforeAll(async () => {
    owner = await giveMonthly(kettle, campaign, 'owner@example.org', '10');
    const other = await giveMonthly(kettle, campaign, 'stranger@example.org', '10');
    stranger = await signedInAgent(kettle, other.donorId);
  });

  it.each([
    ['amount', { amount: '15' }],
    ['frequency', { frequency: 'annual' }],
    ['pause', { months: '1' }],
    ['resume', {}],
    ['cancel', { when: 'now' }],
    ['card', {}],
    ['amount (out of range)', { amount: '0' }],
  ])('%s: 404, and nothing is sent to Stripe', async (action, fields) => {
    const before = await subscription(owner);
    const events = kettle.emulator.events.length;
    const res = await sendPlanForm(stranger, owner, action.split(' ')[0], fields);
    expect(res.status).toBe(404);
    expect(res.text).toContain('We could not find that gift in your account.');
    expect(res.text).not.toContain('owner@example.org');
    expect(kettle.emulator.events.length).toBe(events);
    expect(await subscription(owner)).toEqual(before);
  });

  it('the card link from a payment-failed mail: 404 too', async () => {
    const events = kettle.emulator.events.length;
    expect((await stranger.get(`/account/recurring/${owner.plan.id}/card`)).status).toBe(404);
    expect(kettle.emulator.events.length).toBe(events);
  });

  it('an id that is no plan at all: 404', async () => {
    const { _csrf, nonce } = await accountForms(stranger);
    for (const id of ['not-a-uuid', '00000000-0000-4000-8000-000000000000']) {
      expect((await stranger.post(`/account/recurring/${id}/cancel`).type('form').send({ _csrf, nonce })).status).toBe(404);
    }
  });
});

describe('changing a plan', () => {
  it('changes the amount from the next charge, charging nothing now, and the renewal counts the new amount', async () => {
    const gift = await giveMonthly(kettle, campaign, 'amount@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    const periodEnd = (await subscription(gift)).items.data[0].current_period_end;

    const res = await sendPlanForm(agent, gift, 'amount', { amount: '15.50' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/account#plan-${gift.plan.id}`);
    const view = await accountAfter(agent, gift);
    expect(view.flash).toContain(`Your next gift of $15.50 is on ${day(periodEnd)}.`);
    expect(view.heading).toMatch(/^\$15\.50 every month/);
    expect((await subscription(gift)).items.data[0].price.unit_amount).toBe(1550);
    expect(await invoicesOf(gift)).toHaveLength(1);
    expect((await planRow(gift)).amount).toBe(1550);

    await renew(gift);
    expect(await giftsCharged(gift)).toEqual([1000, 1550]);
  });

  it.each([
    ['0.50', 'The smallest gift we can accept is $1.', 1],
    ['1000000', 'The largest gift we can take online is $999,999.99.', 2],
    ['12,50', 'Enter the amount as a plain number', 3],
    ['', 'Choose or enter an amount.', 4],
  ])('refuses the amount "%s" beside the field (400) and sends nothing to Stripe', async (amount, message, n) => {
    const gift = await giveMonthly(kettle, campaign, `range-${n}@example.org`, '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    const before = await subscription(gift);
    const events = kettle.emulator.events.length;
    const res = await sendPlanForm(agent, gift, 'amount', { amount });
    expect(res.status).toBe(400);
    const field = res.text.slice(res.text.indexOf(`id="amount-${gift.plan.id}"`));
    expect(field).toMatch(/^id="amount-[^"]+" name="amount"[^>]*value="[^"]*" aria-invalid="true"/);
    expect(field).toContain(`<p class="field-error" id="amount-error-${gift.plan.id}">${message}`);
    expect(kettle.emulator.events.length).toBe(events);
    expect(await subscription(gift)).toEqual(before);
  });

  it('pauses for one gift: the next renewal is voided, the one after is charged', async () => {
    const gift = await giveMonthly(kettle, campaign, 'pause-1@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    const periodEnd = (await subscription(gift)).items.data[0].current_period_end;
    expect((await accountAfter(agent, gift)).html).toContain(`Pause this gift: skip your next monthly gifts, from the one on ${day(periodEnd)}`);

    expect((await sendPlanForm(agent, gift, 'pause', { months: '1' })).status).toBe(303);
    // The next renewal's own time, a month on: the renewal then is the first one charged again.
    const resumesAt = monthsAfter(periodEnd, 1);
    expect((await subscription(gift)).pause_collection).toEqual({ behavior: 'void', resumes_at: resumesAt });
    const view = await accountAfter(agent, gift);
    expect(view.status).toBe(`Paused until ${day(resumesAt)}`);
    expect(view.flash).toBe(`Your gift is paused: the monthly gift on ${day(periodEnd)} is skipped, and giving starts again on ${day(resumesAt)}. Nothing is charged until then.`);

    expect((await renew(gift)).status).toBe('void');
    expect(await giftsCharged(gift)).toEqual([1000]);
    expect((await renew(gift)).status).toBe('paid');
    expect(await giftsCharged(gift)).toEqual([1000, 1000]);
  });

  it('pauses for two gifts: two renewals are voided, the third is charged', async () => {
    const gift = await giveMonthly(kettle, campaign, 'pause-2@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    const periodEnd = (await subscription(gift)).items.data[0].current_period_end;
    expect((await sendPlanForm(agent, gift, 'pause', { months: '2' })).status).toBe(303);
    expect((await accountAfter(agent, gift)).flash).toBe(
      `Your gift is paused: the monthly gifts on ${day(periodEnd)} and ${day(monthsAfter(periodEnd, 1))} are skipped, and giving starts again on ${day(monthsAfter(periodEnd, 2))}. Nothing is charged until then.`);

    expect((await renew(gift)).status).toBe('void');
    expect((await renew(gift)).status).toBe('void');
    expect(await giftsCharged(gift)).toEqual([1000]);
    expect((await renew(gift)).status).toBe('paid');
    expect(await giftsCharged(gift)).toEqual([1000, 1000]);
    expect((await accountAfter(agent, gift)).status).toBe('Active');
  });

  it('an annual plan is offered to skip its next yearly gift, and skips exactly that one', async () => {
    const gift = await giveAnnual('pause-annual@example.org', '120');
    const agent = await signedInAgent(kettle, gift.donorId);
    const periodEnd = (await subscription(gift)).items.data[0].current_period_end;
    const page = (await accountAfter(agent, gift)).html;
    expect(page).toContain(`Skip the next yearly gift (on ${day(periodEnd)}): giving starts again on ${day(monthsAfter(periodEnd, 12))}.`);
    expect(page).not.toContain(`id="months-2-${gift.plan.id}"`);

    expect((await sendPlanForm(agent, gift, 'pause', { months: '1' })).status).toBe(303);
    expect((await accountAfter(agent, gift)).flash).toBe(
      `Your gift is paused: the yearly gift on ${day(periodEnd)} is skipped, and giving starts again on ${day(monthsAfter(periodEnd, 12))}. Nothing is charged until then.`);
    expect((await renew(gift)).status).toBe('void');
    expect((await renew(gift)).status).toBe('paid');
    expect(await giftsCharged(gift)).toEqual([12000, 12000]);
  });

  it('resumes a pause at once: the next renewal is charged', async () => {
    const gift = await giveMonthly(kettle, campaign, 'pause-resume@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    expect((await sendPlanForm(agent, gift, 'pause', { months: '3' })).status).toBe(303);
    expect((await sendPlanForm(agent, gift, 'resume')).status).toBe(303);
    expect((await subscription(gift)).pause_collection).toBeNull();
    expect((await accountAfter(agent, gift)).status).toBe('Active');
    expect((await renew(gift)).status).toBe('paid');
    expect(await giftsCharged(gift)).toEqual([1000, 1000]);
  });

  it('cancels at the period\'s end (the default), can be kept, cancels right away, and is then refused any change', async () => {
    const gift = await giveMonthly(kettle, campaign, 'cancel@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    const periodEnd = (await subscription(gift)).items.data[0].current_period_end;

    expect((await sendPlanForm(agent, gift, 'cancel')).status).toBe(303);
    const ending = await subscription(gift);
    expect(ending.cancel_at_period_end).toBe(true);
    let view = await accountAfter(agent, gift);
    expect(view.status).toBe(`Ending on ${day(periodEnd)}`);
    expect(view.flash).toContain(`Your gift will end on ${day(periodEnd)}: nothing more will be charged.`);

    expect((await sendPlanForm(agent, gift, 'resume')).status).toBe(303);
    expect((await subscription(gift)).cancel_at_period_end).toBe(false);
    expect((await accountAfter(agent, gift)).status).toBe('Active');

    // Invisible characters a donor cannot see are stripped, as on the donate form.
    expect((await sendPlanForm(agent, gift, 'cancel', { when: 'now', reason: '  Moving\u202e abroad\u0007 ' })).status).toBe(303);
    const canceled = await subscription(gift);
    expect(canceled.status).toBe('canceled');
    expect(canceled.cancellation_details?.comment).toBe('Moving abroad');
    view = await accountAfter(agent, gift);
    expect(view.status).toBe(`Canceled on ${day(canceled.canceled_at!)}`);
    expect(view.flash).toContain('Your gift is canceled');
    // One confirmation per request, keyed on when Stripe says it was asked for (as the webhook path keys it).
    const mails = await kettle.dataSource.query(`SELECT dedupe_key, params FROM email_outbox WHERE kind = 'cancel_confirmation' AND donor_id = $1 ORDER BY created_at`, [gift.donorId]);
    const requests = [...new Set([ending.canceled_at, canceled.canceled_at])];
    expect(mails).toEqual(requests.map((at) => ({ dedupe_key: `cancel:${gift.subscriptionId}:${at}`, params: { recurringGiftId: gift.plan.id } })));

    const events = kettle.emulator.events.length;
    const refused = await sendPlanForm(agent, gift, 'amount', { amount: '20' });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('This gift has ended, so it cannot be changed.');
    expect(kettle.emulator.events.length).toBe(events);
  });

  it('says plainly when Stripe no longer knows the gift, instead of "try again"', async () => {
    const gift = await giveMonthly(kettle, campaign, 'gone@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    // As after the subscription was deleted in Stripe's Dashboard.
    await kettle.dataSource.query(`UPDATE recurring_gifts SET stripe_subscription_id = 'sub_deleted_in_dashboard' WHERE id = $1`, [gift.plan.id]);
    const refused = await sendPlanForm(agent, gift, 'amount', { amount: '20' });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('Our payment provider no longer knows this gift');
  });

  it('switches monthly to annual from the next charge, charging nothing now, at twelve times the monthly gift', async () => {
    const gift = await giveMonthly(kettle, campaign, 'frequency@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    const periodEnd = (await subscription(gift)).items.data[0].current_period_end;
    // The form shows what the donor will pay, and from when, before they press it.
    const before = await accountAfter(agent, gift);
    expect(before.switchLine).toBe(`Switch to annual: $120.00 a year from ${day(periodEnd)}`);
    expect(before.switchAmount).toBe('120');

    expect((await sendPlanForm(agent, gift, 'frequency', { frequency: 'annual' })).status).toBe(303);
    const sub = await subscription(gift);
    expect(sub.items.data[0].price.recurring).toMatchObject({ interval: 'year', interval_count: 1 });
    expect(sub.items.data[0].price.unit_amount).toBe(12000);
    // Stripe starts the trial with a $0 invoice: nothing is charged, nothing counted.
    expect((await invoicesOf(gift)).filter((invoice) => invoice.amount_paid > 0)).toHaveLength(1);
    await kettle.settled();
    expect(await giftsCharged(gift)).toEqual([1000]);
    const view = await accountAfter(agent, gift);
    expect(view.heading).toMatch(/^\$120 every year/);
    expect(view.flash).toBe(`Your gift is now annual: $120 a year, from your next gift on ${day(periodEnd)}. Nothing is charged today.`);
    expect(view.switchLine).toBe(`Switch to monthly: $10.00 a month from ${day(periodEnd)}`);
    expect(await planRow(gift)).toMatchObject({ interval: 'year', amount: 12000 });
  });

  it('switches annual to monthly at a twelfth of the yearly gift, rounded half up to the cent', async () => {
    const gift = await giveAnnual('to-monthly@example.org', '1200');
    const agent = await signedInAgent(kettle, gift.donorId);
    expect((await accountAfter(agent, gift)).switchLine).toMatch(/^Switch to monthly: \$100\.00 a month from /);
    expect((await sendPlanForm(agent, gift, 'frequency', { frequency: 'monthly' })).status).toBe(303);
    expect((await subscription(gift)).items.data[0].price).toMatchObject({ unit_amount: 10000, recurring: { interval: 'month' } });
    expect((await accountAfter(agent, gift)).flash).toMatch(/^Your gift is now monthly: \$100 a month, from your next gift on /);

    const odd = await giveAnnual('to-monthly-odd@example.org', '12.06');
    const oddAgent = await signedInAgent(kettle, odd.donorId);
    expect((await accountAfter(oddAgent, odd)).switchAmount).toBe('1.01');
    expect((await sendPlanForm(oddAgent, odd, 'frequency', { frequency: 'monthly' })).status).toBe(303);
    expect((await subscription(odd)).items.data[0].price.unit_amount).toBe(101);
  });

  it('switches at the amount the donor typed instead, with the amount form\'s limits', async () => {
    const gift = await giveMonthly(kettle, campaign, 'frequency-typed@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    const events = kettle.emulator.events.length;
    const refused = await sendPlanForm(agent, gift, 'frequency', { frequency: 'annual', amount: '0.50' });
    expect(refused.status).toBe(400);
    const field = refused.text.slice(refused.text.indexOf(`id="frequency-amount-${gift.plan.id}"`));
    expect(field).toMatch(/^id="frequency-amount-[^"]+" name="amount"[^>]*value="0.50" aria-invalid="true"/);
    expect(field).toContain(`<p class="field-error" id="frequency-amount-error-${gift.plan.id}">The smallest gift we can accept is $1.`);
    expect(kettle.emulator.events.length).toBe(events);

    expect((await sendPlanForm(agent, gift, 'frequency', { frequency: 'annual', amount: '100' })).status).toBe(303);
    expect((await subscription(gift)).items.data[0].price).toMatchObject({ unit_amount: 10000, recurring: { interval: 'year' } });
  });

  it('refuses beside the field a switch whose same-yearly-total amount is below the smallest gift, sending nothing', async () => {
    const gift = await giveAnnual('to-monthly-small@example.org', '5');
    const agent = await signedInAgent(kettle, gift.donorId);
    const before = await subscription(gift);
    const events = kettle.emulator.events.length;
    const res = await sendPlanForm(agent, gift, 'frequency', { frequency: 'monthly' });
    expect(res.status).toBe(400);
    const field = res.text.slice(res.text.indexOf(`id="frequency-amount-${gift.plan.id}"`));
    expect(field).toMatch(/^id="frequency-amount-[^"]+" name="amount"[^>]*value="0.42" aria-invalid="true"/);
    expect(field).toContain('$0.42 a month would give the same each year, but the smallest gift we can accept is $1. Enter the amount for each gift.');
    expect(kettle.emulator.events.length).toBe(events);
    expect(await subscription(gift)).toEqual(before);
  });

  it('asks Stripe to keep the paid period running until the next charge when the interval changes (trial_end)', async () => {
    const gift = await giveMonthly(kettle, campaign, 'trial-end@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    const periodEnd = (await subscription(gift)).items.data[0].current_period_end;
    expect((await sendPlanForm(agent, gift, 'frequency', { frequency: 'annual' })).status).toBe(303);
    const sub = await subscription(gift);
    expect(sub.trial_end).toBe(periodEnd);
    expect(sub.status).toBe('trialing');
    expect((await accountAfter(agent, gift)).status).toBe('Active');

    // The next charge, at the end of the month already paid for, is the first annual one.
    await renew(gift);
    const renewed = await subscription(gift);
    expect(renewed.status).toBe('active');
    expect(renewed.items.data[0].current_period_start).toBe(periodEnd);
    expect(renewed.items.data[0].current_period_end - periodEnd).toBeGreaterThanOrEqual(365 * 86_400);
    expect(await giftsCharged(gift)).toEqual([1000, 12000]);
    const frequencies = await kettle.dataSource.query(
      `SELECT frequency FROM ledger_entries WHERE stripe_subscription_id = $1 AND kind = 'gift' ORDER BY occurred_at, renewal`, [gift.plan.stripeSubscriptionId]);
    expect(frequencies.map((r: { frequency: string }) => r.frequency)).toEqual(['monthly', 'annual']);
  });

  it('an old page sent again (its request replayed by Stripe) changes nothing, and Kettle keeps what Stripe has now', async () => {
    const gift = await giveMonthly(kettle, campaign, 'stale@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    const pageA = await accountForms(agent);
    const cancelOnPageA = () => agent.post(`/account/recurring/${gift.plan.id}/cancel`).type('form').send({ _csrf: pageA._csrf, nonce: pageA.nonce });
    expect((await cancelOnPageA()).status).toBe(303);
    expect((await sendPlanForm(agent, gift, 'resume')).status).toBe(303);
    expect((await subscription(gift)).cancel_at_period_end).toBe(false);

    // Back on page A, Cancel again: the same idempotency key, so Stripe answers with its first reply.
    const again = await cancelOnPageA();
    expect(again.status).toBe(303);
    expect((await subscription(gift)).cancel_at_period_end).toBe(false);
    await kettle.settled();
    expect((await planRow(gift)).cancelAtPeriodEnd).toBe(false);
    const view = await accountAfter(agent, gift);
    expect(view.flash).toBe('This page was out of date, so nothing changed. Here is your gift as it is now.');
    expect(view.status).toBe('Active');
  });

  it('makes one change at Stripe however often the same form is sent (double click)', async () => {
    const gift = await giveMonthly(kettle, campaign, 'double@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    const { _csrf, nonce } = await accountForms(agent);
    const events = kettle.emulator.events.length;
    const send = () => agent.post(`/account/recurring/${gift.plan.id}/pause`).type('form').send({ _csrf, nonce, months: '1' });
    const answers = await Promise.all([send(), send()]);
    expect(answers.map((r) => r.status)).toEqual([303, 303]);
    const updates = kettle.emulator.events.slice(events).filter((e) => e.type === 'customer.subscription.updated');
    expect(updates).toHaveLength(1);
    // The second answer is Stripe's replay of the first, and what it asked for is done: no "out of date" message.
    expect((await accountAfter(agent, gift)).flash).toMatch(/^Your gift is paused: the monthly gift on /);
  });

  it('says in words that Stripe did not make the change, and never answers 500', async () => {
    const gift = await giveMonthly(kettle, campaign, 'stripe-refuses@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    // Canceled at Stripe behind Kettle's back (its webhook not delivered yet): Stripe refuses the update.
    kettle.emulator.setAutoDeliver(false);
    try {
      await kettle.stripe.subscriptions.cancel(gift.subscriptionId);
      const res = await sendPlanForm(agent, gift, 'amount', { amount: '20' });
      expect(res.status).toBe(503);
      expect(res.text).toContain('Our payment provider did not accept this change, so nothing has changed.');
      expect((await planRow(gift)).amount).toBe(1000);
    } finally {
      kettle.emulator.setAutoDeliver(true);
    }
  });
});

describe('the card', () => {
  it('sends the donor to Stripe\'s billing portal to replace it, coming back to the account page', async () => {
    const gift = await giveMonthly(kettle, campaign, 'portal@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    const res = await sendPlanForm(agent, gift, 'card');
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(new RegExp(`^${kettle.emulator.url}/portal/`));
    const portal = await fetch(res.headers.location);
    expect(portal.status).toBe(200);
    expect(await portal.text()).toContain(kettle.baseUrl.replace(/^https?:\/\//, ''));
  });

  it('a plan whose renewal failed says "past due", and the failed-payment mail\'s link goes straight to the card update', async () => {
    const gift = await giveMonthly(kettle, campaign, 'past-due@example.org', '10');
    await kettle.emulator.advanceSubscription(gift.subscriptionId, { card: CARDS.failsOnNextCharge });
    await kettle.settled();
    const agent = request.agent(kettle.app);
    const link = `${accountLinks(kettle).manageUrl(gift.donorId)}?next=${encodeURIComponent(`/account/recurring/${gift.plan.id}/card`)}`;
    const signedIn = await pressLinkButton(agent, link);
    expect(signedIn.headers.location).toBe(`/account/recurring/${gift.plan.id}/card`);
    const toPortal = await agent.get(signedIn.headers.location);
    expect(toPortal.status).toBe(303);
    expect(toPortal.headers.location).toMatch(new RegExp(`^${kettle.emulator.url}/portal/`));
    // It says when Stripe tries again (the failed invoice's next_payment_attempt), and no "next gift" beyond it.
    const invoice = (await kettle.stripe.invoices.list({ subscription: gift.subscriptionId, limit: 1 })).data[0];
    const retryOn = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(invoice.next_payment_attempt! * 1000));
    const view = await accountAfter(agent, gift);
    expect(view.status).toBe(`Past due: your last payment did not go through. Please update your card. We will try again on ${retryOn}, with the card shown here.`);
    expect(view.html).not.toContain('data-testid="plan-next"');
  });

  it('a new recurring gift never joins the Stripe customer of a donor with that email: the donate form is anonymous', async () => {
    // A stranger who types a donor's email must not put a plan or a card on that donor's customer
    // (whose card updates would then pay for it), nor reach its saved cards.
    const first = await giveMonthly(kettle, campaign, 'two-plans@example.org', '10');
    const started = await startDonation(kettle, campaign, { email: 'TWO-plans@example.org', amount: '900', frequency: 'monthly' });
    const session = await kettle.stripe.checkout.sessions.retrieve(started.sessionId);
    expect(session.customer).toBeNull();
    expect(session.customer_email).toBe('TWO-plans@example.org');
    expect((await kettle.emulator.pay(started.sessionId, { number: CARDS.visa })).ok).toBe(true);
    await kettle.settled();
    const plans = await kettle.dataSource.getRepository(RecurringGift).findBy({ donorId: first.donorId });
    expect(new Set(plans.map((p) => p.stripeCustomerId)).size).toBe(2);
  });

  it('says which plan is paid with a different card, each with its own "Update card" button', async () => {
    const { donorId, plans, second: subB } = await twoCustomersOneEmail('two-cards@example.org');
    await kettle.emulator.advanceSubscription(subB.stripeSubscriptionId, { card: '5555 5555 5555 4444' });
    await kettle.settled();

    const agent = await signedInAgent(kettle, donorId);
    const page = (await agent.get('/account')).text;
    const section = (id: string) => page.slice(page.indexOf(`id="plan-${id}"`)).split('</section>')[0];
    const other = plans.find((p) => p.amount === 1000)!;
    expect(section(subB.id)).toMatch(/Mastercard ending in 4444/);
    expect(section(subB.id)).toContain('different card from your other gifts');
    expect(section(other.id)).toContain('different card from your other gifts');
    for (const plan of plans) expect(section(plan.id)).toContain(`action="/account/recurring/${plan.id}/card"`);
  });

  it('after the portal, the new card pays the plan; a plan under another Stripe customer keeps its card and says so', async () => {
    const first = await giveMonthly(kettle, campaign, 'new-card@example.org', '10');
    const second = await giveMonthly(kettle, campaign, 'new-card@example.org', '20');
    const secondCard = (await subscription(second)).default_payment_method;
    const agent = await signedInAgent(kettle, first.donorId);
    const back = await replaceCardOnPortal(agent, first, '5555 5555 5555 4444');
    expect(back).toBe(`${kettle.baseUrl}/account?card=updated`);
    const returned = await agent.get(pathOf(back));
    expect(returned.status).toBe(303);

    const customer = await kettle.stripe.customers.retrieve(first.plan.stripeCustomerId!) as Stripe.Customer;
    const card = customer.invoice_settings.default_payment_method;
    expect(card).toBeTruthy();
    expect((await subscription(first)).default_payment_method).toBe(card);
    // A card belongs to one Stripe customer: the other plan keeps its own, with its own button.
    expect((await subscription(second)).default_payment_method).toBe(secondCard);
    const page = (await agent.get('/account')).text;
    expect(page).toContain('Your new card is saved');
    expect(page.match(/data-testid="plan-card">Mastercard ending in 4444/g)).toHaveLength(1);
    expect(page).toContain('different card from your other gifts');
  });

  it('a card update started elsewhere, or already taken back, moves no plan: /account?card=updated alone reads and writes nothing at Stripe', async () => {
    // The plan pays with one card while its customer's default is another, as after a change made elsewhere.
    const gift = await giveMonthly(kettle, campaign, 'cross-site@example.org', '10');
    const checkoutCard = (await subscription(gift)).default_payment_method as string;
    await kettle.emulator.advanceSubscription(gift.subscriptionId, { card: '5555 5555 5555 4444' });
    await kettle.settled();
    const planCard = (await subscription(gift)).default_payment_method as string;
    await kettle.stripe.customers.update(gift.plan.stripeCustomerId!, { invoice_settings: { default_payment_method: checkoutCard } });
    await kettle.settled();

    // A link on another site sends the signed-in donor's browser to the portal's return address.
    const agent = await signedInAgent(kettle, gift.donorId);
    const events = kettle.emulator.events.length;
    const res = await agent.get('/account?card=updated');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/account');
    expect((await subscription(gift)).default_payment_method).toBe(planCard);
    expect(kettle.emulator.events.length).toBe(events);
    expect((await agent.get('/account')).text).not.toContain('Your new card is saved');
  });

  it('back from the portal once: the return is used once, and a second visit moves nothing', async () => {
    const gift = await giveMonthly(kettle, campaign, 'return-once@example.org', '10');
    const agent = await signedInAgent(kettle, gift.donorId);
    const back = await replaceCardOnPortal(agent, gift, '3782 822463 10005');
    expect((await agent.get(pathOf(back))).status).toBe(303);
    expect((await agent.get('/account')).text).toContain('Your new card is saved');
    const newCard = (await subscription(gift)).default_payment_method as string;

    // Later, the customer's default is another card (the old one); the portal's return address again does nothing.
    const oldCard = (await kettle.stripe.paymentMethods.retrieve(gift.plan.stripePaymentMethodId!)).id;
    await kettle.stripe.customers.update(gift.plan.stripeCustomerId!, { invoice_settings: { default_payment_method: oldCard } });
    await kettle.settled();
    const events = kettle.emulator.events.length;
    expect((await agent.get(pathOf(back))).status).toBe(303);
    expect((await subscription(gift)).default_payment_method).toBe(newCard);
    expect(kettle.emulator.events.length).toBe(events);
  });

  it('a plan under another Stripe customer keeps its own card, and the page says so with its own button', async () => {
    // Someone else gave under this email with their own card.
    const { donorId, first: myPlan, second: theirPlan } = await twoCustomersOneEmail('shared-email@example.org');
    expect(theirPlan.stripeCustomerId).not.toBe(myPlan.stripeCustomerId);
    // Their customer's default is their first card; their plan now pays with a newer one.
    await kettle.stripe.customers.update(theirPlan.stripeCustomerId!, { invoice_settings: { default_payment_method: theirPlan.stripePaymentMethodId! } });
    await kettle.emulator.advanceSubscription(theirPlan.stripeSubscriptionId, { card: '5555 5555 5555 4444' });
    await kettle.settled();
    const theirCard = (await kettle.stripe.subscriptions.retrieve(theirPlan.stripeSubscriptionId)).default_payment_method;

    const agent = await signedInAgent(kettle, donorId);
    const gift = { donorId, plan: myPlan, subscriptionId: myPlan.stripeSubscriptionId };
    const back = await replaceCardOnPortal(agent, gift, '3782 822463 10005');
    expect((await agent.get(pathOf(back))).status).toBe(303);

    expect((await kettle.stripe.subscriptions.retrieve(theirPlan.stripeSubscriptionId)).default_payment_method).toBe(theirCard);
    const page = (await agent.get('/account')).text;
    const section = (id: string) => page.slice(page.indexOf(`id="plan-${id}"`)).split('</section>')[0];
    expect(section(myPlan.id)).toMatch(/data-testid="plan-card">American Express ending in 0005/);
    expect(section(theirPlan.id)).toMatch(/data-testid="plan-card">Mastercard ending in 4444/);
    expect(section(theirPlan.id)).toContain('different card from your other gifts');
    expect(section(theirPlan.id)).toContain(`action="/account/recurring/${theirPlan.id}/card"`);
  });
});

/**
 * Two monthly plans under one email and two Stripe customers ($10 and $12): both Checkouts started
 * before either was paid, as when someone else gives under the same address.
 */
async function twoCustomersOneEmail(email: string) {
  const started = [
    await startDonation(kettle, campaign, { email, amount: '10', frequency: 'monthly' }),
    await startDonation(kettle, campaign, { email, amount: '12', frequency: 'monthly' }),
  ];
  for (const { sessionId } of started) await kettle.emulator.pay(sessionId, { number: CARDS.visa });
  await kettle.settled();
  const donorId = await donorIdOf(kettle, email);
  const plans = await kettle.dataSource.getRepository(RecurringGift).findBy({ donorId });
  return { donorId, plans, first: plans.find((p) => p.amount === 1000)!, second: plans.find((p) => p.amount === 1200)! };
}

/** Presses the plan's "Update card", replaces the card on the portal's page; where the portal sends the browser back. */
async function replaceCardOnPortal(agent: Agent, gift: MonthlyGift, number: string): Promise<string> {
  const portalUrl = (await sendPlanForm(agent, gift, 'card')).headers.location;
  const form = cardForm(await (await fetch(portalUrl)).text());
  const done = await fetch(new URL(form.action, portalUrl), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form.fields({ number, exp: '12 / 34', cvc: '123' })).toString(),
  });
  if (done.status !== 303) throw new Error(`the portal answered ${done.status}`);
  await kettle.settled();
  return done.headers.get('location')!;
}

/** The portal's card form (a payment_method_update session opens on it): its action, and its fields filled in as a person would. */
function cardForm(html: string): { action: string; fields: (card: { number: string; exp: string; cvc: string }) => Record<string, string> } {
  for (const [, action, body] of html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)) {
    const inputs = [...body.matchAll(/<input[^>]*name="([^"]+)"[^>]*?(?:value="([^"]*)")?[^>]*>/g)].map(([, name, value]) => ({ name, value: value ?? '' }));
    if (!inputs.some((i) => /number/i.test(i.name))) continue;
    return {
      action: action.replace(/&amp;/g, '&'),
      fields: (card) => Object.fromEntries(inputs.map(({ name, value }) => [name,
        /number/i.test(name) ? card.number : /exp/i.test(name) ? card.exp : /cvc|cvv/i.test(name) ? card.cvc : value])),
    };
  }
  throw new Error(`the portal page has no card form: ${html.slice(0, 300)}`);
}
