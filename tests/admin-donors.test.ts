import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RecurringGift } from '../src/donations/recurring-gift.entity';
import { accountLinks, donorIdOf, giveMonthly, pathOf, pressLinkButton, signedInAgent } from './helpers/account';
import { signedInAdmin, type AdminBrowser } from './helpers/admin';
import { deliverEvent, donateAndPay, eventOfType, postEvent, storedEvent, undeliveredEventsOf, withAppWorkerStopped } from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';
import { addressedTo, type TestMailbox } from './helpers/mailbox';

// The console's donor pages: finding a donor, what Kettle holds about them, acting for them
// (a fresh manage link, ending a plan), handing them their data, and erasing it.

let kettle: TestKettle;
let mailbox: TestMailbox;
let admin: AdminBrowser;
let owner: AdminBrowser;
let viewer: AdminBrowser;

beforeAll(async () => {
  kettle = await startTestKettle({ mailbox: true });
  mailbox = kettle.mailbox!;
  [admin, owner, viewer] = [await signedInAdmin(kettle, 'admin'), await signedInAdmin(kettle, 'owner'), await signedInAdmin(kettle, 'viewer')];
});
afterAll(() => kettle?.close());

const auditRows = (action: string, subjectId: string) => kettle.dataSource.query(
  `SELECT l.before, l.after, a.email AS by FROM admin_audit_log l JOIN admin_accounts a ON a.id = l.admin_id
    WHERE l.action = $1 AND l.subject_id = $2 ORDER BY l.id`,
  [action, subjectId],
);

describe('finding a donor', () => {
  it('finds donors by the start of their email or name, whatever the case, and by id', async () => {
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '10', email: 'Jane.Roe@example.org', name: 'Jane Roe' });
    await donateAndPay(kettle, campaign, { amount: '10', email: 'other-person@example.org', name: 'Robin Roe' });
    const janeId = await donorIdOf(kettle, 'jane.roe@example.org');

    for (const q of ['jane.r', 'JANE.ROE@EXAMPLE', 'Jane R']) {
      const res = await admin.get(`/admin/donors?q=${encodeURIComponent(q)}`);
      expect(res.status).toBe(200);
      expect(res.text).toContain(`href="/admin/donors/${janeId}"`);
      expect(res.text).not.toContain('other-person@example.org');
    }
    expect((await admin.get(`/admin/donors?q=${janeId}`)).text).toContain('Jane.Roe@example.org');
    // Her email and her name both start with "jane": listed once.
    expect((await admin.get('/admin/donors?q=jane')).text.split(`href="/admin/donors/${janeId}"`)).toHaveLength(2);
    expect((await admin.get('/admin/donors?q=robin')).text).toContain('other-person@example.org');
    // A LIKE wildcard is a character like any other.
    expect((await admin.get('/admin/donors?q=%25')).text).toContain('No donor\'s email or name starts with “%”');
    expect((await viewer.get('/admin/donors?q=jane')).status).toBe(200);
    // The page says so: a walkthrough expected "roe" to find Jane Roe.
    expect((await admin.get('/admin/donors')).text).toContain('Matches the start of an email or of a name');
    expect((await admin.get('/admin/donors?q=roe')).text).toContain('No donor\'s email or name starts with “roe”');
  });

  it('pages through many matches, each donor once', async () => {
    await kettle.dataSource.query(
      `INSERT INTO donors (email, name) SELECT 'paged-' || lpad(n::text, 3, '0') || '@example.org', NULL FROM generate_series(1, 60) n`,
    );
    const first = await admin.get('/admin/donors?q=paged-');
    const onFirst = [...first.text.matchAll(/paged-(\d{3})@example\.org/g)].map((m) => m[1]);
    expect(onFirst).toHaveLength(50);
    const next = /href="([^"]+)" rel="next"/.exec(first.text)![1].replace(/&amp;/g, '&').replace(/&#x3D;/g, '=');
    const second = await admin.get(next);
    const onSecond = [...second.text.matchAll(/paged-(\d{3})@example\.org/g)].map((m) => m[1]);
    expect(onSecond).toHaveLength(10);
    expect(new Set([...onFirst, ...onSecond]).size).toBe(60);
    expect(second.text).not.toContain('rel="next"');
  });

  it('answers 404 for an unknown or malformed donor id', async () => {
    expect((await admin.get('/admin/donors/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await admin.get('/admin/donors/not-a-uuid')).status).toBe(404);
    expect((await admin.get("/admin/donors/1'; DROP TABLE donors;--/export.json")).status).toBe(404);
  });
});

describe('the donor page', () => {
  it('shows gifts with their net, plans, mails, consent and Stripe customers, and links each gift to its page', async () => {
    const campaign = await makeCampaign(kettle, { title: 'Winter appeal' });
    await donateAndPay(kettle, campaign, { amount: '25', email: 'page@example.org', name: 'Page Donor', newsletter: 'yes', comment: 'Go <team>' });
    const { donorId } = await giveMonthly(kettle, campaign, 'page@example.org', '7');
    await kettle.settled();
    const [gift] = await kettle.dataSource.query(`SELECT id FROM ledger_entries WHERE donor_id = $1 AND kind = 'gift' AND amount = 2500`, [donorId]);
    const [customer] = await kettle.dataSource.query(`SELECT stripe_customer_id AS id FROM donor_stripe_customers WHERE donor_id = $1 LIMIT 1`, [donorId]);

    const res = await viewer.get(`/admin/donors/${donorId}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('page@example.org');
    expect(res.text).toContain('Page Donor');
    expect(res.text).toContain('$32.00 in 2 gifts');
    // Giving again without ticking the box withdraws nothing.
    expect(res.text).toMatch(/Opted in \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)/);
    expect(res.text).toContain(`href="/admin/gifts/${gift.id}"`);
    expect(res.text).toContain('Winter appeal');
    expect(res.text).toMatch(/<td>active<\/td>\s*<td class="num">\$7\.00 \/ month<\/td>/);
    expect(res.text).toContain('visa •••• 4242');
    expect(res.text).toContain('Receipt for your gift of $25.00 to Test Newsroom');
    expect(res.text).toMatch(/Opted in on \d{4}-\d\d-\d\d \d\d:\d\d UTC, giving to Winter appeal/);
    expect(res.text).toContain(customer.id);
    // A viewer sees no buttons.
    expect(res.text).not.toContain('/manage-link"');
    expect(res.text).not.toContain('/cancel"');
  });
});

describe('acting for a donor', () => {
  it('mails a fresh manage link that signs the donor in, once per ten minutes however often it is pressed', async () => {
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '5', email: 'lost-link@example.org' });
    const donorId = await donorIdOf(kettle, 'lost-link@example.org');

    expect((await viewer.post(`/admin/donors/${donorId}/manage-link`)).status).toBe(403);
    const first = await admin.post(`/admin/donors/${donorId}/manage-link`);
    expect(first.status).toBe(303);
    expect((await admin.get(first.headers.location)).text).toContain('A mail with a fresh manage link is on its way');
    const again = await owner.post(`/admin/donors/${donorId}/manage-link`);
    expect((await admin.get(again.headers.location)).text).toContain('no second mail was queued');
    await kettle.settled();

    const mails = mailbox.matching(addressedTo('lost-link@example.org', /manage your gifts/));
    expect(mails).toHaveLength(1);
    // The organisation sent it; the donor did not ask for it.
    expect(mails[0].text).toContain('Test Newsroom sent you a link to see and manage your gifts');
    expect(mails[0].text).toContain('If you did not expect this, you can ignore this email');
    expect(mails[0].text).not.toMatch(/as you asked|did not ask/i);
    const link = mails[0].links.find((l) => l.startsWith(`${kettle.baseUrl}/account/manage/`))!;
    const agent = request.agent(kettle.app);
    const signedIn = await pressLinkButton(agent, link);
    expect(signedIn.headers.location).toBe('/account');
    expect((await auditRows('donor.manage_link_resend', donorId))).toHaveLength(1);
  });

  it('cancels a plan at the end of its period as the donor\'s own button does, confirmation mail included', async () => {
    const campaign = await makeCampaign(kettle);
    const { donorId, plan, subscriptionId } = await giveMonthly(kettle, campaign, 'stop-for-me@example.org');

    expect((await viewer.post(`/admin/donors/${donorId}/plans/${plan.id}/cancel`, { when: 'period_end' })).status).toBe(403);
    expect((await admin.post(`/admin/donors/${donorId}/plans/00000000-0000-4000-8000-000000000000/cancel`, { when: 'now' })).status).toBe(404);
    expect((await admin.post(`/admin/donors/${donorId}/plans/${plan.id}/cancel`, { when: 'sometime' })).status).toBe(400);

    const res = await admin.post(`/admin/donors/${donorId}/plans/${plan.id}/cancel`, { when: 'period_end', nonce: 'n1' });
    expect(res.status).toBe(303);
    expect((await kettle.stripe.subscriptions.retrieve(subscriptionId)).cancel_at_period_end).toBe(true);
    expect(await kettle.dataSource.getRepository(RecurringGift).findOneByOrFail({ id: plan.id })).toMatchObject({ status: 'active', cancelAtPeriodEnd: true });
    await kettle.settled();
    await mailbox.waitFor(addressedTo('stop-for-me@example.org', /cancel|end/i));
    const [row] = await auditRows('recurring_gift.cancel_period_end', plan.id);
    expect(row).toMatchObject({ by: admin.email, before: { cancelAtPeriodEnd: false }, after: { cancelAtPeriodEnd: true } });
  });
});

describe('a donor\'s data', () => {
  it('exports everything Kettle holds about the donor as a JSON download, and audits it', async () => {
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '12', email: 'export@example.org', name: 'Ex Port', comment: 'Keep it up', dedication: 'For Mum', newsletter: 'yes' });
    const donorId = await donorIdOf(kettle, 'export@example.org');

    const res = await viewer.get(`/admin/donors/${donorId}/export.json`).buffer(true).parse((r, done) => {
      let body = '';
      r.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      r.on('end', () => done(null, body));
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe(`attachment; filename=donor-${donorId}.json`);
    const data = JSON.parse(res.body as string);
    expect(data.donor).toMatchObject({ id: donorId, email: 'export@example.org', name: 'Ex Port' });
    expect(data.ledgerEntries).toEqual([expect.objectContaining({ kind: 'gift', amountMinor: '1200', currency: 'usd' })]);
    expect(data.checkoutIntents).toEqual([expect.objectContaining({ email: 'export@example.org', name: 'Ex Port', comment: 'Keep it up', dedication: 'For Mum', newsletter: true })]);
    expect(data.consent.newsletterDigest).toBe(true);
    expect(data.emailsSent).toEqual([expect.objectContaining({ kind: 'receipt', status: 'sent' })]);
    expect(data.emailsSent[0]).not.toHaveProperty('html');
    expect(data.stripeCustomers[0].id).toMatch(/^cus_/);
    expect(await auditRows('donor.export', donorId)).toHaveLength(1);
  });

  it('erases a donor: totals unchanged, no name on the wall, links and sessions dead, not found by email, nothing personal in the audit', async () => {
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '30', email: 'forget-me@example.org', name: 'Forget Me', comment: 'Remember the river', newsletter: 'yes' });
    const { donorId, plan } = await giveMonthly(kettle, campaign, 'forget-me@example.org', '8');
    await kettle.dataSource.query(`INSERT INTO email_outbox (dedupe_key, kind, donor_id, next_attempt_at) VALUES ('erase-test', 'statement', $1, now() + interval '1 day')`, [donorId]);
    const donorSession = await signedInAgent(kettle, donorId);
    const before = await totalsOf(kettle, campaign.id);
    expect((await request(kettle.app).get(`/campaigns/${campaign.slug}`)).text).toContain('Forget Me');

    // Owners only, and only when confirmed.
    expect((await admin.post(`/admin/donors/${donorId}/erase`, { confirm: 'ERASE' })).status).toBe(403);
    const unconfirmed = await owner.post(`/admin/donors/${donorId}/erase`, { confirm: 'someone-else@example.org' });
    expect(unconfirmed.status).toBe(422);
    expect(unconfirmed.text).toContain('Type the donor&#x27;s email address, or the word ERASE');
    // A plan that can still charge them is ended first, on the same page.
    const charging = await owner.post(`/admin/donors/${donorId}/erase`, { confirm: 'FORGET-ME@example.org' });
    expect(charging.status).toBe(409);
    expect(charging.text).toContain('A plan can still charge this donor');
    expect((await kettle.dataSource.query(`SELECT email FROM donors WHERE id = $1`, [donorId]))[0].email).toBe('forget-me@example.org');

    expect((await owner.post(`/admin/donors/${donorId}/plans/${plan.id}/cancel`, { when: 'now' })).status).toBe(303);
    await kettle.settled();
    const erased = await owner.post(`/admin/donors/${donorId}/erase`, { confirm: 'FORGET-ME@example.org' });
    expect(erased.status).toBe(303);
    expect((await owner.get(erased.headers.location)).text).toContain('personal data is erased');

    // Money: every ledger row kept, so kept and recomputed totals are what they were.
    const after = await totalsOf(kettle, campaign.id);
    expect(after).toEqual(before);
    expect(after.kept).toEqual(after.recomputed);
    // The wall, the search, the links, the session.
    // The public page keeps its reads for about a second.
    await vi.waitFor(async () => {
      const wall = (await request(kettle.app).get(`/campaigns/${campaign.slug}`)).text;
      expect(wall).not.toContain('Forget Me');
      expect(wall).not.toContain('Remember the river');
    }, { timeout: 5_000, interval: 100 });
    expect((await admin.get('/admin/donors?q=forget')).text).not.toContain(`/admin/donors/${donorId}"`);
    expect((await request.agent(kettle.app).get(pathOf(accountLinks(kettle).manageUrl(donorId)))).status).toBe(410);
    expect((await donorSession.get('/account')).headers.location).toBe('/account/sign-in');
    // What is left of them.
    const [donor] = await kettle.dataSource.query(`SELECT email, name, erased_at FROM donors WHERE id = $1`, [donorId]);
    expect(donor).toMatchObject({ email: `erased+${donorId}@invalid`, name: null });
    expect(donor.erased_at).not.toBeNull();
    const intents = await kettle.dataSource.query(`SELECT email, donor_name, comment, dedication, newsletter FROM checkout_intents WHERE donor_id = $1`, [donorId]);
    expect(intents.length).toBeGreaterThan(0);
    for (const intent of intents) expect(intent).toEqual({ email: '', donor_name: null, comment: null, dedication: null, newsletter: false });
    expect(await kettle.dataSource.query(`SELECT status, last_error FROM email_outbox WHERE dedupe_key = 'erase-test'`)).toEqual([{ status: 'skipped', last_error: 'the donor was erased' }]);
    const [audit] = await auditRows('donor.erase', donorId);
    expect(audit.by).toBe(owner.email);
    expect(JSON.stringify(audit)).not.toMatch(/forget-me|Forget Me|river/i);
    // Nothing more to send them, and no second erasure.
    expect((await admin.post(`/admin/donors/${donorId}/manage-link`)).status).toBe(409);
    expect((await owner.post(`/admin/donors/${donorId}/erase`, { confirm: 'ERASE' })).status).toBe(409);
  });

  it('empties the payloads of the webhook events about the donor\'s gifts, so no copy of their email or name stays; the events themselves stay', async () => {
    const campaign = await makeCampaign(kettle);
    const email = 'inbox-copy@example.org';
    await donateAndPay(kettle, campaign, { amount: '10', email, name: 'Erin Erasable' });
    const donorId = await donorIdOf(kettle, email);
    const mentioning = `SELECT id, type, status FROM stripe_events WHERE payload::text ILIKE $1 OR payload::text ILIKE $2 ORDER BY id`;
    const events: { id: string; type: string; status: string }[] = await kettle.dataSource.query(mentioning, [`%${email}%`, '%Erin Erasable%']);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['checkout.session.completed']));

    expect((await owner.post(`/admin/donors/${donorId}/erase`, { confirm: 'ERASE' })).status).toBe(303);

    expect(await kettle.dataSource.query(mentioning, [`%${email}%`, '%Erin Erasable%'])).toEqual([]);
    // As the retention purge leaves them: id, type, status and the object's id, marked as purged.
    const kept = await kettle.dataSource.query(
      `SELECT id, type, status, payload->'data'->'object'->>'id' AS object, payload_purged_at IS NOT NULL AS purged FROM stripe_events WHERE id = ANY($1) ORDER BY id`,
      [events.map((e) => e.id)],
    );
    expect(kept).toEqual(events.map((e) => ({ ...e, object: expect.stringMatching(/^[a-z]+_/), purged: true })));
    const [audit] = await auditRows('donor.erase', donorId);
    expect(audit.after.eventPayloadsCleared).toBeGreaterThanOrEqual(events.length);
  });

  it('holds back while a webhook event about the donor still waits in the inbox, and erases once it is applied', async () => {
    const campaign = await makeCampaign(kettle);
    const email = 'inbox-waiting@example.org';
    await donateAndPay(kettle, campaign, { amount: '10', email, name: 'Wait Ing' });
    const donorId = await donorIdOf(kettle, email);
    const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, { amount: '15', email, name: 'Wait Ing' }));
    kettle.emulator.setAutoDeliver(true);
    const completed = eventOfType(events, 'checkout.session.completed');

    await withAppWorkerStopped(kettle, async () => {
      expect((await postEvent(kettle.app, completed)).status).toBe(200);
      const held = await owner.post(`/admin/donors/${donorId}/erase`, { confirm: 'ERASE' });
      expect(held.status).toBe(409);
      expect(held.text).toContain('A Stripe event about this donor&#x27;s gifts is still waiting to be applied');
      expect((await kettle.dataSource.query(`SELECT erased_at FROM donors WHERE id = $1`, [donorId]))[0].erased_at).toBeNull();
    });
    await kettle.webhookWorker.drain();
    expect((await storedEvent(kettle, completed.id))?.status).toBe('processed');
    expect((await totalsOf(kettle, campaign.id)).kept.raised).toBe(25_00);

    expect((await owner.post(`/admin/donors/${donorId}/erase`, { confirm: 'ERASE' })).status).toBe(303);
    const [event] = await kettle.dataSource.query(`SELECT payload::text AS payload FROM stripe_events WHERE id = $1`, [completed.id]);
    expect(event.payload).not.toMatch(/inbox-waiting|Wait Ing/);
  });

  it('empties a parked event about the donor too, which then cannot be retried from the webhooks page', async () => {
    const campaign = await makeCampaign(kettle);
    const email = 'inbox-parked@example.org';
    await donateAndPay(kettle, campaign, { amount: '10', email, name: 'Park Ed' });
    const donorId = await donorIdOf(kettle, email);
    const events = await undeliveredEventsOf(kettle, () => donateAndPay(kettle, campaign, { amount: '20', email, name: 'Park Ed' }));
    kettle.emulator.setAutoDeliver(true);
    const completed = eventOfType(events, 'checkout.session.completed');
    // The campaign was switched to euros after the donor paid in dollars: the event is parked.
    await kettle.dataSource.query(`UPDATE campaigns SET currency = 'eur' WHERE id = $1`, [campaign.id]);
    await deliverEvent(kettle, completed);
    await kettle.dataSource.query(`UPDATE campaigns SET currency = 'usd' WHERE id = $1`, [campaign.id]);
    expect((await storedEvent(kettle, completed.id))?.status).toBe('failed');

    expect((await owner.post(`/admin/donors/${donorId}/erase`, { confirm: 'ERASE' })).status).toBe(303);

    const [event] = await kettle.dataSource.query(`SELECT status, payload::text AS payload FROM stripe_events WHERE id = $1`, [completed.id]);
    expect(event.status).toBe('failed');
    expect(event.payload).not.toMatch(/inbox-parked|Park Ed/);
    const page = await admin.get('/admin/webhooks');
    const row = page.text.split('<tr>').find((r) => r.includes(completed.id)) ?? '';
    expect(row).toContain('Payload erased with its donor');
    expect(row).not.toContain('/retry"');
    const retried = await admin.post(`/admin/webhooks/${completed.id}/retry`);
    expect(retried.status).toBe(409);
    expect(retried.text).toContain('it can no longer be applied');
    expect(await storedEvent(kettle, completed.id)).toMatchObject({ status: 'failed' });
    expect(await auditRows('stripe_event.retry', completed.id)).toEqual([]);
    expect((await totalsOf(kettle, campaign.id)).kept.raised).toBe(10_00);
  });

  it('clears the note, reference and void reason of the donor\'s offline gifts, keeping method, date and amounts; no audit row ever held them', async () => {
    const campaign = await makeCampaign(kettle);
    const email = 'cheque-writer@example.org';
    const receivedOn = new Date().toISOString().slice(0, 10);
    const recorded = await admin.post(`/admin/campaigns/${campaign.slug}/offline-gifts`, {
      amount: '250', received_on: receivedOn, method: 'cheque', reference: 'Cheque 1044 J. Chequewriter',
      donor_email: email, donor_name: 'Jo Chequewriter', note: 'Jo Chequewriter, 12 High Street, in memory of her mother', nonce: randomUUID().replace(/-/g, ''),
    });
    expect(recorded.status).toBe(303);
    const giftId = recorded.headers.location.split('/').pop()!;
    expect((await admin.post(`/admin/gifts/${giftId}/void`, { reason: 'Jo Chequewriter asked for it back' })).status).toBe(303);
    const donorId = await donorIdOf(kettle, email);
    const before = await totalsOf(kettle, campaign.id);

    expect((await owner.post(`/admin/donors/${donorId}/erase`, { confirm: 'ERASE' })).status).toBe(303);

    expect(await kettle.dataSource.query(
      `SELECT method, to_char(received_on, 'YYYY-MM-DD') AS received_on, reference, note, void_reason FROM offline_gifts WHERE entry_id = $1`, [giftId],
    )).toEqual([{ method: 'cheque', received_on: receivedOn, reference: null, note: null, void_reason: null }]);
    expect(await totalsOf(kettle, campaign.id)).toEqual(before);
    const audits = await kettle.dataSource.query(`SELECT action, before::text || after::text AS text FROM admin_audit_log WHERE subject_id = $1 ORDER BY id`, [giftId]);
    expect(audits.map((a: { action: string }) => a.action)).toEqual(['offline_gift.record', 'gift.void']);
    expect(audits.map((a: { text: string }) => a.text).join('\n')).not.toMatch(/Chequewriter|1044|High Street/);
    const page = await admin.get(`/admin/gifts/${giftId}`);
    expect(page.status).toBe(200);
    expect(page.text).not.toMatch(/Chequewriter|1044|High Street/);
    expect(page.text).toContain('Cheque');
  });
});
