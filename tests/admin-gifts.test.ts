import 'reflect-metadata';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { recordOfflineGift } from '../src/admin/offline-gifts/offline-gifts.service';
import { GiftRefunds } from '../src/admin/gifts/gift-refunds';
import { recordLedgerEntry } from '../src/ledger/ledger.service';
import { createStripeClient } from '../src/payments/stripe/stripe-client';
import { signedInAdmin, type AdminBrowser } from './helpers/admin';
import { deliverEvent, donateAndPay } from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';
import { ledgerSeed } from './helpers/ledger-seed';

let kettle: TestKettle;
let admin: AdminBrowser;

beforeAll(async () => {
  kettle = await startTestKettle();
  admin = await signedInAdmin(kettle, 'admin');
});
afterAll(() => kettle?.close());

/** The gift recorded for a Checkout Session (a donation made through the donate form). */
async function giftOfSession(sessionId: string): Promise<{ id: string; pi: string }> {
  const [row] = await kettle.dataSource.query(`SELECT id, stripe_payment_intent_id AS pi FROM ledger_entries WHERE stripe_checkout_session_id = $1`, [sessionId]);
  return row;
}

/** The refund form's fields on a gift page (its nonce included). */
async function refundForm(giftId: string): Promise<{ request_key: string }> {
  const page = await admin.get(`/admin/gifts/${giftId}`);
  const match = /name="request_key" value="([^"]+)"/.exec(page.text);
  if (!match) throw new Error(`no refund form on the gift page: ${page.text.slice(0, 300)}`);
  return { request_key: match[1] };
}

/** An offline gift recorded as the console's offline form records it. */
async function offlineGift(campaign: Campaign, input: { amount: number; receivedOn: string; donorEmail?: string; reference?: string }) {
  const [{ id: adminId }] = await kettle.dataSource.query(`SELECT id FROM admin_accounts WHERE email = $1`, [admin.email]);
  const { entryId } = await recordOfflineGift(kettle.dataSource, campaign, {
    amount: input.amount, receivedOn: input.receivedOn, method: 'cheque', reference: input.reference ?? null, donorEmail: input.donorEmail ?? null,
    donorName: null, note: null, formKey: crypto.randomUUID(),
  }, adminId);
  return entryId;
}

const refundsOf = async (giftId: string) =>
  (await kettle.dataSource.query(`SELECT amount FROM ledger_entries WHERE gift_entry_id = $1 AND kind = 'refund' ORDER BY created_at`, [giftId]))
    .map((r: { amount: string }) => Number(r.amount));

describe('the gift list', () => {
  let spring: Campaign;
  let autumn: Campaign;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    spring = await makeCampaign(kettle, { slug: 'spring-drive' });
    autumn = await makeCampaign(kettle, { slug: 'autumn-drive' });
    const seed = ledgerSeed(kettle);
    const ada = await seed.donor('ada@example.org', 'Ada Lovelace');
    const bob = await seed.donor('bob@example.net', 'Bob Builder');
    ids.adaSpring = await seed.gift(spring, ada, 25_00, '2025-03-10T12:00:00Z');
    ids.adaPlan = await seed.gift(spring, ada, 10_00, '2025-08-01T12:00:00Z', { frequency: 'monthly', subscription: 'sub_list_1', renewal: true });
    ids.bobAutumn = await seed.gift(autumn, bob, 40_00, '2026-02-01T12:00:00Z');
    await seed.adjust('refund', ids.bobAutumn, 15_00, 'usd', '2026-02-02T12:00:00Z');
    ids.offline = await offlineGift(autumn, { amount: 100_00, receivedOn: '2026-05-05', donorEmail: 'bob@example.net' });
  });

  const listed = async (query: string) => {
    const res = await admin.get(`/admin/gifts?${query}`);
    expect(res.status).toBe(200);
    return Object.entries(ids).filter(([, id]) => res.text.includes(`/admin/gifts/${id}`)).map(([name]) => name).sort();
  };

  it('shows each gift with its donor, campaign, kind, source, amount, refunded part and net', async () => {
    const res = await admin.get('/admin/gifts?campaign=autumn-drive');
    expect(res.status).toBe(200);
    expect(res.text).toContain('Bob Builder');
    expect(res.text).toContain('bob@example.net');
    expect(res.text).toMatch(/\$40\.00<\/td>\s*<td class="num">\$15\.00<\/td>\s*<td class="num">\$25\.00/);
    expect(res.text).toContain('Offline');
    const plan = await admin.get('/admin/gifts?frequency=recurring');
    expect(plan.text).toContain('Monthly (renewal)');
  });

  it('offers the campaigns by title in a select (the slug is its value), all campaigns first, and explains the fiscal year', async () => {
    const res = await admin.get('/admin/gifts?campaign=spring-drive');
    const select = res.text.slice(res.text.indexOf('<select id="f-campaign" name="campaign"'), res.text.indexOf('</select>', res.text.indexOf('id="f-campaign"')));
    const options = [...select.matchAll(/<option value="([^"]*)"( selected)?>([^<]*)<\/option>/g)].map((m) => [m[1], m[3], Boolean(m[2])]);
    expect(options[0]).toEqual(['', 'All campaigns', false]);
    expect(options).toContainEqual(['spring-drive', spring.title, true]);
    expect(options).toContainEqual(['autumn-drive', autumn.title, false]);
    expect(res.text).toContain('FY 2027 starting in July = 1 Jul 2026 – 30 Jun 2027');
    expect(res.text).toMatch(/<option value="7">July<\/option>/);
  });

  it.each([
    ['campaign=spring-drive', ['adaPlan', 'adaSpring']],
    ['from=2025-08-01&to=2026-02-01', ['adaPlan', 'bobAutumn']],
    ['fy=2025', ['adaPlan', 'adaSpring']],
    // A fiscal year starting in July is named after the year it ends in: 2025-07-01 to 2026-06-30.
    ['fy=2026&fy_start=7', ['adaPlan', 'bobAutumn', 'offline']],
    ['fy=2026&fy_start=7&to=2026-03-01', ['adaPlan', 'bobAutumn']],
    ['frequency=once', ['adaSpring', 'bobAutumn', 'offline']],
    ['source=offline', ['offline']],
    ['source=online&campaign=autumn-drive', ['bobAutumn']],
    ['refunded=yes', ['bobAutumn']],
    ['refunded=no&campaign=autumn-drive', ['offline']],
    ['q=LOVELACE', ['adaPlan', 'adaSpring']],
    ['q=example.net', ['bobAutumn', 'offline']],
    ['q=Ada%40Example.org', ['adaPlan', 'adaSpring']],
    ['q=a%40exam', ['adaPlan', 'adaSpring']],
    ['q=100%25', []],
  ])('filters by %s', async (query, expected) => {
    expect(await listed(query)).toEqual(expected);
  });

  it.each([
    ['campaign=no-such-campaign', 'No campaign has that slug.'],
    ['from=2025-02-30', 'Use a date like 2026-01-31.'],
    ['from=2026-01-10&to=2026-01-01', 'Must be on or after the'],
    ['fy=26', 'Use a year like 2026.'],
    ['fy=2026&fy_start=13', 'Use a month number from 1 to 12.'],
    ['frequency=weekly', 'Choose one-off or recurring.'],
    ['source=cash', 'Choose online or offline.'],
    ['refunded=maybe', 'Choose yes or no.'],
    ['q=' + 'x'.repeat(201), 'Search for at most 200 characters.'],
    ['after=not-a-cursor', 'This page link is broken'],
  ])('answers 400 with the form and its message for %s', async (query, message) => {
    const res = await admin.get(`/admin/gifts?${query}`);
    expect(res.status).toBe(400);
    expect(res.text).toContain(message);
    expect(res.text).toContain('<form method="get" action="/admin/gifts"');
  });

  it('the CSV export refuses bad filters the same way', async () => {
    const res = await admin.get('/admin/exports/gifts.csv?fy=twenty');
    expect(res.status).toBe(400);
    expect(res.text).toContain('Use a year like 2026.');
  });

  it('pages through gifts newest first with no gift shown twice or skipped, ties on the same moment included', async () => {
    const campaign = await makeCampaign(kettle, { slug: 'many-gifts' });
    const seed = ledgerSeed(kettle);
    const donor = await seed.donor('many@example.org');
    const seeded = new Set<string>();
    await kettle.dataSource.transaction(async (tx) => {
      for (let i = 0; i < 120; i += 1) {
        // Three gifts share every second: the id breaks the tie.
        const at = new Date(Date.UTC(2024, 0, 1, 0, 0, Math.floor(i / 3)));
        const r = await recordLedgerEntry(tx, { kind: 'gift', campaignId: campaign.id, donorId: donor, amount: 1_00, currency: 'usd', source: 'stripe', frequency: 'once', stripePaymentIntentId: `pi_many_${i}`, occurredAt: at });
        seeded.add(r.entryId!);
      }
    });
    const seen: string[] = [];
    let path: string | null = '/admin/gifts?campaign=many-gifts';
    let pages = 0;
    while (path && pages < 10) {
      const res = await admin.get(path);
      expect(res.status).toBe(200);
      seen.push(...[...res.text.matchAll(/href="\/admin\/gifts\/([0-9a-f-]{36})"/g)].map((m) => m[1]));
      const next = /href="([^"]+)" rel="next"/.exec(res.text);
      path = next ? next[1].replace(/&amp;/g, '&').replace(/&#x3D;/g, '=') : null;
      pages += 1;
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(120);
    expect(new Set(seen)).toEqual(seeded);
  });

  it('answers a page link whose cursor holds an impossible date or time with 400, never a database error', async () => {
    for (const at of ['2026-02-30T00:00:00.000000Z', '2026-01-01T25:61:00.000000Z', '0000-01-01T00:00:00.000000Z']) {
      const res = await admin.get(`/admin/gifts?after=${encodeURIComponent(`${at}_${crypto.randomUUID()}`)}`);
      expect(res.status, at).toBe(400);
    }
  });
});

describe('a gift page', () => {
  it('answers 404 for an unknown or malformed id', async () => {
    expect((await admin.get('/admin/gifts/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await admin.get('/admin/gifts/not-a-uuid')).status).toBe(404);
    expect((await admin.post('/admin/gifts/not-a-uuid/refund', { amount: '1' })).status).toBe(404);
    expect((await admin.post('/admin/gifts/not-a-uuid/hide-comment')).status).toBe(404);
  });

  it('shows amounts, Stripe ids as plain text in test mode, and the events about the gift', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '25', name: 'Grace Hopper' });
    const gift = await giftOfSession(sessionId);
    const res = await admin.get(`/admin/gifts/${gift.id}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('Grace Hopper');
    expect(res.text).toContain(`<code>${gift.pi}</code>`);
    expect(res.text).not.toContain('dashboard.stripe.com');
    expect(res.text).toContain('checkout.session.completed');
    // An online gift is refunded, not voided.
    expect(res.text).not.toContain('/void"');
  });

  it('offers an offline gift a void form (for admins), not a refund', async () => {
    const campaign = await makeCampaign(kettle);
    const giftId = await offlineGift(campaign, { amount: 50_00, receivedOn: '2026-01-15', reference: 'CHQ-<b>77</b>' });
    const page = await admin.get(`/admin/gifts/${giftId}`);
    expect(page.text).toContain(`action="/admin/gifts/${giftId}/void"`);
    expect(page.text).toContain('name="reason"');
    expect(page.text).not.toContain('name="request_key"');
    expect(page.text).toContain('Cheque (CHQ-&lt;b&gt;77&lt;/b&gt;), received on 2026-01-15');
    const viewer = await signedInAdmin(kettle, 'viewer');
    expect((await viewer.get(`/admin/gifts/${giftId}`)).text).not.toContain('/void"');
    const refused = await admin.post(`/admin/gifts/${giftId}/refund`, { amount: '5', request_key: crypto.randomUUID() });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('An offline gift is voided instead.');

    // The void route (offline-gifts.routes.ts) comes back here: voided, and no form any more.
    expect((await admin.post(`/admin/gifts/${giftId}/void`, { reason: 'Cheque bounced' })).status).toBe(303);
    const voided = await admin.get(`/admin/gifts/${giftId}`);
    expect(voided.text).toContain('Voided because</dt><dd>Cheque bounced');
    expect(voided.text).not.toContain(`action="/admin/gifts/${giftId}/void"`);

    // In the list it reads as voided, not as refunded.
    const list = await admin.get(`/admin/gifts?campaign=${campaign.slug}`);
    const row = list.text.slice(list.text.indexOf(`/admin/gifts/${giftId}`));
    expect(row.slice(0, row.indexOf('</tr>'))).toMatch(/One-off <strong class="mark">Voided<\/strong><\/td>[\s\S]*\$50\.00<\/td>\s*<td class="num"><\/td>\s*<td class="num">\$0\.00/);
  });
});

describe('refunds', () => {
  let campaign: Campaign;
  beforeAll(async () => {
    campaign = await makeCampaign(kettle);
  });

  it('asks Stripe, says so, and moves the total once Stripe confirms it, exactly once under a redelivered event', async () => {
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '40' });
    const gift = await giftOfSession(sessionId);
    const before = await totalsOf(kettle, campaign.id);

    kettle.emulator.setAutoDeliver(false);
    const from = kettle.emulator.events.length;
    const res = await admin.post(`/admin/gifts/${gift.id}/refund`, { amount: '12.50', ...(await refundForm(gift.id)) });
    expect(res.status).toBe(303);
    const waiting = await admin.get(res.headers.location);
    expect(waiting.text).toContain('Refund of $12.50 requested; the total moves when Stripe confirms it.');
    expect((await totalsOf(kettle, campaign.id)).kept.raised).toBe(before.kept.raised);

    const events = kettle.emulator.events.slice(from);
    kettle.emulator.setAutoDeliver(true);
    for (const event of events) await deliverEvent(kettle, event);
    for (const event of events) await deliverEvent(kettle, event); // Stripe delivers again
    const after = await totalsOf(kettle, campaign.id);
    expect(after.kept.raised).toBe(before.kept.raised - 12_50);
    expect(after.recomputed).toEqual(after.kept);
    expect(await refundsOf(gift.id)).toEqual([-12_50]);
    const confirmed = await admin.get(res.headers.location);
    expect(confirmed.text).toContain('Refund of $12.50 confirmed by Stripe');

    const [audit] = await kettle.dataSource.query(`SELECT action, after FROM admin_audit_log WHERE subject_id = $1 AND action = 'gift.refund_request'`, [gift.id]);
    expect(audit.after).toMatchObject({ amount: 12_50, currency: 'usd' });
  });

  it('refunds in parts, and an empty amount refunds what is left', async () => {
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '30' });
    const gift = await giftOfSession(sessionId);
    expect((await admin.post(`/admin/gifts/${gift.id}/refund`, { amount: '10', ...(await refundForm(gift.id)) })).status).toBe(303);
    await kettle.settled();
    expect((await admin.post(`/admin/gifts/${gift.id}/refund`, { amount: '', ...(await refundForm(gift.id)) })).status).toBe(303);
    await kettle.settled();
    expect(await refundsOf(gift.id)).toEqual([-10_00, -20_00]);
    const page = await admin.get(`/admin/gifts/${gift.id}`);
    expect(page.text).not.toContain('name="request_key"'); // nothing left to refund
    const totals = await totalsOf(kettle, campaign.id);
    expect(totals.recomputed).toEqual(totals.kept);
  });

  it('refuses more than is left (pending requests counted) with 400, sending nothing to Stripe', async () => {
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '20' });
    const gift = await giftOfSession(sessionId);
    kettle.emulator.setAutoDeliver(false);
    try {
      expect((await admin.post(`/admin/gifts/${gift.id}/refund`, { amount: '15', ...(await refundForm(gift.id)) })).status).toBe(303);
      const stripeRefundsBefore = (await kettle.stripe.refunds.list({ payment_intent: gift.pi })).data.length;
      for (const amount of ['5.01', '0', '-1', '1.234', 'ten']) {
        const res = await admin.post(`/admin/gifts/${gift.id}/refund`, { amount, ...(await refundForm(gift.id)) });
        expect(res.status).toBe(400);
        expect(res.text).toContain('class="field-error"');
        expect(res.text).toContain(`value="${amount}"`);
      }
      const over = await admin.post(`/admin/gifts/${gift.id}/refund`, { amount: '5.01', ...(await refundForm(gift.id)) });
      expect(over.text).toContain('At most $5.00 can still be refunded.');
      expect((await kettle.stripe.refunds.list({ payment_intent: gift.pi })).data).toHaveLength(stripeRefundsBefore);
    } finally {
      kettle.emulator.setAutoDeliver(true);
    }
  });

  it('makes one refund when the same form is sent twice, even at once', async () => {
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '50' });
    const gift = await giftOfSession(sessionId);
    const form = { amount: '5', ...(await refundForm(gift.id)) };
    const answers = await Promise.all([admin.post(`/admin/gifts/${gift.id}/refund`, form), admin.post(`/admin/gifts/${gift.id}/refund`, form)]);
    expect(answers.map((a) => a.status)).toEqual([303, 303]);
    expect((await admin.post(`/admin/gifts/${gift.id}/refund`, form)).status).toBe(303);
    await kettle.settled();
    expect((await kettle.stripe.refunds.list({ payment_intent: gift.pi })).data.map((r) => r.amount)).toEqual([5_00]);
    expect(await refundsOf(gift.id)).toEqual([-5_00]);
    const [{ count }] = await kettle.dataSource.query(`SELECT count(*)::int AS count FROM refund_requests WHERE gift_entry_id = $1`, [gift.id]);
    expect(count).toBe(1);
  });

  it('keeps a refund Stripe did not answer pending (not refundable twice), and "Ask Stripe again" makes it once', async () => {
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '25' });
    const gift = await giftOfSession(sessionId);
    const [{ id: adminId }] = await kettle.dataSource.query(`SELECT id FROM admin_accounts WHERE email = $1`, [admin.email]);
    const unreachable = createStripeClient({ secretKey: 'sk_test_unreachable', apiBase: 'http://127.0.0.1:9' });
    const outcome = await new GiftRefunds(kettle.dataSource, unreachable, pino({ level: 'silent' }))
      .request({ giftId: gift.id, adminId, amount: '10', requestKey: crypto.randomUUID() });
    expect(outcome).toMatchObject({ kind: 'refused', message: expect.stringContaining('we do not know yet whether it made this refund') });

    const page = await admin.get(`/admin/gifts/${gift.id}`);
    expect(page.text).toContain('No answer from Stripe yet: ask again (it cannot refund twice)');
    expect(page.text).toContain('Refunds awaiting Stripe');
    const over = await admin.post(`/admin/gifts/${gift.id}/refund`, { amount: '15.01', ...(await refundForm(gift.id)) });
    expect(over.text).toContain('At most $15.00 can still be refunded.');

    const retryKey = /name="request_key" value="([^"]+)"><button type="submit">Ask Stripe again/.exec(page.text)![1];
    expect((await admin.post(`/admin/gifts/${gift.id}/refund`, { request_key: retryKey })).status).toBe(303);
    expect((await admin.post(`/admin/gifts/${gift.id}/refund`, { request_key: retryKey })).status).toBe(303);
    await kettle.settled();
    expect((await kettle.stripe.refunds.list({ payment_intent: gift.pi })).data.map((r) => r.amount)).toEqual([10_00]);
    expect(await refundsOf(gift.id)).toEqual([-10_00]);
  });

  it('frees the amount of a refund Stripe could not pay out: the request says failed, the money counts again, and it can be refunded anew', async () => {
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '18' });
    const gift = await giftOfSession(sessionId);
    expect((await admin.post(`/admin/gifts/${gift.id}/refund`, { amount: '8', ...(await refundForm(gift.id)) })).status).toBe(303);
    await kettle.settled();
    const [refund] = (await kettle.stripe.refunds.list({ payment_intent: gift.pi })).data;
    await kettle.emulator.failRefund(refund.id);
    await kettle.settled();

    const page = await admin.get(`/admin/gifts/${gift.id}`);
    expect(page.text).toContain('Failed: Stripe could not complete this refund.');
    expect(page.text).toContain('at most $18.00');
    expect(page.text).toContain('name="amount" inputmode="decimal" autocomplete="off" value="18.00"');
    const totals = await totalsOf(kettle, campaign.id);
    expect(totals.recomputed).toEqual(totals.kept);
  });

  it('is not for viewers (403) nor without the CSRF token (403)', async () => {
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '15' });
    const gift = await giftOfSession(sessionId);
    const form = { amount: '1', ...(await refundForm(gift.id)) };
    const viewer = await signedInAdmin(kettle, 'viewer');
    expect((await viewer.get(`/admin/gifts/${gift.id}`)).text).not.toContain('name="request_key"');
    expect((await viewer.post(`/admin/gifts/${gift.id}/refund`, form)).status).toBe(403);
    expect((await admin.postWithoutToken(`/admin/gifts/${gift.id}/refund`, form)).status).toBe(403);
    await kettle.settled();
    expect((await kettle.stripe.refunds.list({ payment_intent: gift.pi })).data).toHaveLength(0);
  });
});

describe('moderating the donor wall', () => {
  const publicPage = (campaign: Campaign) => request(kettle.app).get(`/campaigns/${campaign.slug}`);

  /** The public page is cached for about a second: poll it (bounded) until it says what we expect. */
  async function publicPageUntil(campaign: Campaign, accept: (html: string) => boolean): Promise<string> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const html = (await publicPage(campaign)).text;
      if (accept(html) || Date.now() > deadline) return html;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('hides a name and comment from the public page, and restores them; every action is audited', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '10', name: 'Mallory Spam', comment: 'Buy cheap watches' });
    const gift = await giftOfSession(sessionId);
    expect(await publicPageUntil(campaign, (h) => h.includes('Buy cheap watches'))).toContain('Mallory Spam');

    expect((await admin.post(`/admin/gifts/${gift.id}/hide-comment`)).status).toBe(303);
    const hidden = await publicPageUntil(campaign, (h) => !h.includes('Buy cheap watches'));
    expect(hidden).not.toContain('Buy cheap watches');
    expect(hidden).not.toContain('Mallory Spam');
    expect(hidden).toContain('Anonymous');

    expect((await admin.post(`/admin/gifts/${gift.id}/restore-comment`)).status).toBe(303);
    expect(await publicPageUntil(campaign, (h) => h.includes('Buy cheap watches'))).toContain('Mallory Spam');
    const audit = await kettle.dataSource.query(`SELECT action FROM admin_audit_log WHERE subject_id = $1 ORDER BY id`, [gift.id]);
    expect(audit.map((a: { action: string }) => a.action)).toEqual(['gift.comment_hide', 'gift.comment_restore']);
  });

  it('holds comments of a campaign that holds them until approved, listing them in the queue', async () => {
    const campaign = await makeCampaign(kettle);
    await kettle.dataSource.query(`UPDATE campaigns SET hold_comments = true WHERE id = $1`, [campaign.id]);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '10', name: 'Patient Donor', comment: 'Waiting for approval here' });
    const gift = await giftOfSession(sessionId);
    const held = await publicPageUntil(campaign, (h) => h.includes('Patient Donor'));
    expect(held).toContain('Patient Donor');
    expect(held).not.toContain('Waiting for approval here');

    const queue = await admin.get('/admin/moderation');
    expect(queue.status).toBe(200);
    const awaiting = queue.text.slice(0, queue.text.indexOf('Recent comments'));
    expect(awaiting).toContain('Waiting for approval here');
    expect(awaiting).toContain(`/admin/gifts/${gift.id}/approve-comment`);

    const approved = await admin.post(`/admin/gifts/${gift.id}/approve-comment`, { back: 'moderation' });
    expect(approved.status).toBe(303);
    expect(approved.headers.location).toBe('/admin/moderation');
    expect(await publicPageUntil(campaign, (h) => h.includes('Waiting for approval here'))).toContain('Waiting for approval here');
    const after = await admin.get('/admin/moderation');
    expect(after.text.slice(0, after.text.indexOf('Recent comments'))).not.toContain('Waiting for approval here');
  });

  it('escapes what donors typed on the console pages', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '10', email: 'escape-me@example.org', name: '<script>alert(1)</script>', comment: '<img src=x onerror=alert(2)>' });
    const gift = await giftOfSession(sessionId);
    for (const path of [`/admin/gifts/${gift.id}`, '/admin/moderation', `/admin/gifts?campaign=${campaign.slug}`]) {
      const res = await admin.get(path);
      expect(res.text).not.toContain('<script>alert(1)</script>');
      expect(res.text).not.toContain('<img src=x');
      expect(res.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    }
  });

  it('is not for viewers (403) nor without the CSRF token (403)', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '10', comment: 'Keep me' });
    const gift = await giftOfSession(sessionId);
    const viewer = await signedInAdmin(kettle, 'viewer');
    expect((await viewer.post(`/admin/gifts/${gift.id}/hide-comment`)).status).toBe(403);
    expect((await admin.postWithoutToken(`/admin/gifts/${gift.id}/hide-comment`)).status).toBe(403);
    const [intent] = await kettle.dataSource.query(`SELECT comment_hidden_at FROM checkout_intents WHERE stripe_checkout_session_id = $1`, [sessionId]);
    expect(intent.comment_hidden_at).toBeNull();
  });
});
