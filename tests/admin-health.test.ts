import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RecurringGift } from '../src/donations/recurring-gift.entity';
import { giveMonthly } from './helpers/account';
import { signedInAdmin, type AdminBrowser } from './helpers/admin';
import { CARDS, deliverEvent, donateAndPay, eventOfType, storedEvent, undeliveredEventsOf } from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';

// The console's health pages: recurring gifts that need a look, and Stripe's webhooks.

let kettle: TestKettle;
let admin: AdminBrowser;
let viewer: AdminBrowser;

beforeAll(async () => {
  kettle = await startTestKettle();
  [admin, viewer] = [await signedInAdmin(kettle, 'admin'), await signedInAdmin(kettle, 'viewer')];
});
afterAll(() => kettle?.close());

/** The table row of the page that mentions `text`. */
const rowWith = (html: string, text: string) => html.split('<tr>').find((row) => row.includes(text)) ?? '';

describe('recurring gifts that need a look', () => {
  it('lists a past-due plan with Stripe\'s decline and next try, and says when the card was replaced since', async () => {
    const campaign = await makeCampaign(kettle);
    const { donorId, plan, subscriptionId } = await giveMonthly(kettle, campaign, 'declined-renewal@example.org', '9');
    await kettle.emulator.advanceSubscription(subscriptionId, { card: CARDS.failsOnNextCharge });
    await kettle.settled();
    const failed = await kettle.dataSource.getRepository(RecurringGift).findOneByOrFail({ id: plan.id });
    expect(failed.status).toBe('past_due');

    const page = await viewer.get('/admin/recurring');
    expect(page.status).toBe(200);
    const row = rowWith(page.text, `/admin/donors/${donorId}`);
    expect(row).toContain('declined-renewal@example.org');
    expect(row).toContain('<code>generic_decline</code> Your card was declined.');
    expect(row).toContain(failed.nextPaymentAttemptAt!.toISOString().slice(0, 16).replace('T', ' '));
    expect(row).toContain('visa •••• 0341');
    expect(row).toMatch(/<td>no<\/td>\s*<\/tr>/);

    // The donor puts their earlier card back on the plan: the declined card is no longer the plan's.
    await kettle.stripe.subscriptions.update(subscriptionId, { default_payment_method: plan.stripePaymentMethodId! });
    await kettle.settled();
    const after = rowWith((await viewer.get('/admin/recurring')).text, `/admin/donors/${donorId}`);
    expect(after).toContain('visa •••• 4242');
    expect(after).toMatch(/<td>yes<\/td>\s*<\/tr>/);
  });

  it('sums up the active plans per currency: how many, and their value a month with annual plans at a twelfth', async () => {
    // Euros: the other tests' plans are in dollars.
    const campaign = await makeCampaign(kettle, { currency: 'eur' });
    await giveMonthly(kettle, campaign, 'monthly-eur@example.org', '10');
    await giveMonthly(kettle, campaign, 'monthly-eur-2@example.org', '5');
    await donateAndPay(kettle, campaign, { email: 'annual-eur@example.org', amount: '121', frequency: 'annual' });
    const paused = await giveMonthly(kettle, campaign, 'paused-eur@example.org', '50');
    await kettle.dataSource.query(`UPDATE recurring_gifts SET paused = true WHERE id = $1`, [paused.plan.id]);

    const page = await viewer.get('/admin/recurring');
    const row = rowWith(page.text.slice(page.text.indexOf('data-testid="active-plans"')), '<td>EUR</td>');
    // 10 + 5 a month, and 121 a year at a twelfth (10.083… rounded half up to 10.08): 25.08 a month, the paused plan left out.
    expect(row).toMatch(/<td>EUR<\/td><td class="num">3<\/td><td class="num">2<\/td><td class="num">1<\/td><td class="num">€25\.08<\/td>/);
  });

  it('lists plans set to end within 30 days, not those ending later', async () => {
    const campaign = await makeCampaign(kettle);
    const soon = await giveMonthly(kettle, campaign, 'ending-soon@example.org', '5');
    const later = await donateAndPay(kettle, campaign, { email: 'ending-later@example.org', amount: '50', frequency: 'annual' });
    const laterSub = (await kettle.stripe.checkout.sessions.retrieve(later.sessionId)).subscription as string;
    for (const sub of [soon.subscriptionId, laterSub]) await kettle.stripe.subscriptions.update(sub, { cancel_at_period_end: true });
    await kettle.settled();
    // A calendar month may be 31 days: the emulator has no clock to move, so the monthly plan's
    // stored period end is brought to ten days from now.
    await kettle.dataSource.query(`UPDATE recurring_gifts SET current_period_end = now() + interval '10 days' WHERE id = $1`, [soon.plan.id]);

    const page = (await viewer.get('/admin/recurring')).text;
    expect(rowWith(page, 'ending-soon@example.org')).toContain('at period end');
    expect(page).not.toContain('ending-later@example.org');
  });
});

describe('webhooks', () => {
  it('shows a parked event with its error; retrying it after the fix applies it, once, and is audited', async () => {
    const campaign = await makeCampaign(kettle);
    const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, { amount: '20', email: 'parked@example.org' }));
    kettle.emulator.setAutoDeliver(true);
    const completed = eventOfType(events, 'checkout.session.completed');
    // The campaign was switched to euros after the donor paid in dollars: the event cannot be counted.
    await kettle.dataSource.query(`UPDATE campaigns SET currency = 'eur' WHERE id = $1`, [campaign.id]);
    await deliverEvent(kettle, completed);
    expect((await storedEvent(kettle, completed.id))?.status).toBe('failed');

    const page = await viewer.get('/admin/webhooks');
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/Last event from Stripe: <strong>\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/strong>/);
    expect(page.text).toMatch(/<span class="figure">1<\/span> parked as failed/);
    const row = rowWith(page.text, completed.id);
    expect(row).toContain('checkout.session.completed');
    expect(row).toContain('Currency mismatch');
    expect(row).not.toContain('/retry"'); // viewers see no button
    expect((await viewer.post(`/admin/webhooks/${completed.id}/retry`)).status).toBe(403);

    await kettle.dataSource.query(`UPDATE campaigns SET currency = 'usd' WHERE id = $1`, [campaign.id]);
    const retried = await admin.post(`/admin/webhooks/${completed.id}/retry`);
    expect(retried.status).toBe(303);
    expect(retried.headers.location).toBe('/admin/webhooks?notice=retried');
    // The app's own worker, woken by the NOTIFY, applies it.
    await vi.waitFor(async () => expect((await storedEvent(kettle, completed.id))?.status).toBe('processed'), { timeout: 10_000, interval: 20 });
    const totals = await totalsOf(kettle, campaign.id);
    expect(totals.kept.raised).toBe(20_00);
    expect(totals.kept).toEqual(totals.recomputed);

    const [audit] = await kettle.dataSource.query(
      `SELECT before, after FROM admin_audit_log WHERE action = 'stripe_event.retry' AND subject_id = $1`, [completed.id],
    );
    expect(audit.before).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/Currency mismatch/) });
    expect((await admin.get('/admin/webhooks')).text).not.toContain(completed.id);
    // Only a parked event goes back; unknown and malformed ids are no events.
    expect((await admin.post(`/admin/webhooks/${completed.id}/retry`)).status).toBe(409);
    expect((await admin.post('/admin/webhooks/evt_unknown/retry')).status).toBe(404);
    expect((await admin.post('/admin/webhooks/not%20an%20id/retry')).status).toBe(404);
  });

  it('explains what ignored means and lists the latest ignored events with why', async () => {
    const campaign = await makeCampaign(kettle);
    const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, { amount: '15', email: 'ignored@example.org' }));
    kettle.emulator.setAutoDeliver(true);
    const charge = eventOfType(events, 'charge.succeeded');
    await deliverEvent(kettle, charge);
    expect((await storedEvent(kettle, charge.id))?.status).toBe('ignored');

    const page = await viewer.get('/admin/webhooks');
    expect(page.text).toContain('“ignored” is normal: events Kettle does not act on (such as charge.succeeded');
    expect(page.text).toContain('Checkout Sessions or subscriptions Kettle did not create');
    const list = page.text.slice(page.text.indexOf('data-testid="ignored-events"'));
    const row = rowWith(list, charge.id);
    expect(row).toContain('charge.succeeded');
    expect(row).toContain('not an event Kettle acts on');
    expect(list.slice(0, list.indexOf('</table>')).split('<tr>').length - 2).toBeLessThanOrEqual(20);
  });
});
