import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStatement } from '../src/account/statements.service';
import type { Campaign } from '../src/campaigns/campaign.entity';
import pino from 'pino';
import { verifyAllTotals } from '../src/ledger/ledger.service';
import { ReconcileService } from '../src/payments/stripe/reconcile.service';
import { cliOn } from './helpers/cli';
import { signedInAdmin, type AdminBrowser } from './helpers/admin';
import { signedInAgent } from './helpers/account';
import { donateAndPay } from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';
import { addressedTo, type TestMailbox } from './helpers/mailbox';

// Offline gifts (cheques, transfers, cash) recorded in the console, and their voids: money that
// never went through Stripe, counted through the same ledger as every other gift.

let kettle: TestKettle;
let mailbox: TestMailbox;
let admin: AdminBrowser;

beforeAll(async () => {
  kettle = await startTestKettle({ mailbox: true });
  mailbox = kettle.mailbox!;
  admin = await signedInAdmin(kettle, 'admin');
});
afterAll(() => kettle?.close());

const cli = cliOn(() => kettle.dbUrl);

const today = () => new Date().toISOString().slice(0, 10);
let nonceCounter = 0;
const nonce = () => `test-nonce-${String(++nonceCounter).padStart(12, '0')}`;

/** The form as an admin fills it in, with a fresh one-time key unless given. */
const giftForm = (fields: Record<string, string> = {}) => ({
  amount: '250', received_on: today(), method: 'cheque', reference: 'Cheque 004512', donor_email: '', donor_name: '', note: '', nonce: nonce(), ...fields,
});

async function recordGift(campaign: Campaign, fields: Record<string, string> = {}): Promise<string> {
  const res = await admin.post(`/admin/campaigns/${campaign.slug}/offline-gifts`, giftForm(fields));
  expect(res.status, res.text.slice(0, 500)).toBe(303);
  return /^\/admin\/gifts\/([0-9a-f-]{36})$/.exec(res.headers.location)![1];
}

const giftRows = (campaign: Campaign) =>
  kettle.dataSource.query(`SELECT id, kind, amount, source, donor_id FROM ledger_entries WHERE campaign_id = $1 ORDER BY created_at`, [campaign.id]);

const auditOf = (giftId: string) =>
  kettle.dataSource.query(`SELECT admin_id, action, before, after FROM admin_audit_log WHERE subject_id = $1 ORDER BY id`, [giftId]);

describe('GET /admin/campaigns/:slug/offline-gifts/new', () => {
  it('shows the form: amount in the campaign currency, today (UTC) as the day received, the methods, a one-time key', async () => {
    const campaign = await makeCampaign(kettle, { currency: 'eur' });
    const res = await admin.get(`/admin/campaigns/${campaign.slug}/offline-gifts/new`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('Amount (EUR)');
    expect(res.text).toContain(`name="received_on" type="date"`);
    expect(res.text).toContain(`max="${today()}" value="${today()}"`);
    for (const method of ['cheque', 'transfer', 'cash', 'other']) expect(res.text).toContain(`<option value="${method}"`);
    expect(res.text).toMatch(/name="nonce" value="[A-Za-z0-9_-]{22}"/);
  });

  it('answers 404 for an unknown campaign', async () => {
    expect((await admin.get('/admin/campaigns/no-such-campaign/offline-gifts/new')).status).toBe(404);
  });
});

describe('POST /admin/campaigns/:slug/offline-gifts', () => {
  it('records a cheque through the ledger: counted in the totals (equal to a recomputation), the donor once, one receipt, audited', async () => {
    const campaign = await makeCampaign(kettle, { title: 'Keep the Evening Paper' });
    const giftId = await recordGift(campaign, { amount: '1250.50', donor_email: 'Grace@Example.org', donor_name: 'Grace Hopper', note: 'Handed in at the front desk' });
    const secondId = await recordGift(campaign, { amount: '100', method: 'transfer', reference: 'TRF-77', donor_email: 'grace@example.org' });

    const { kept, recomputed } = await totalsOf(kettle, campaign.id);
    expect(kept).toEqual({ raised: 1350_50, gifts: 2, donors: 1 });
    expect(recomputed).toEqual(kept);
    const rows = await giftRows(campaign);
    expect(rows.map((r: { kind: string; source: string; amount: string }) => [r.kind, r.source, Number(r.amount)])).toEqual([['gift', 'offline', 1250_50], ['gift', 'offline', 100_00]]);
    expect(new Set(rows.map((r: { donor_id: string }) => r.donor_id)).size).toBe(1);
    const [entry] = await kettle.dataSource.query(`SELECT occurred_at, stripe_payment_intent_id FROM ledger_entries WHERE id = $1`, [giftId]);
    expect(entry.stripe_payment_intent_id).toBeNull();
    expect(entry.occurred_at.toISOString().slice(0, 10)).toBe(today());
    expect(entry.occurred_at.getTime()).toBeLessThanOrEqual(Date.now());
    const [details] = await kettle.dataSource.query(`SELECT method, reference, note, to_char(received_on, 'YYYY-MM-DD') AS received_on FROM offline_gifts WHERE entry_id = $1`, [giftId]);
    expect(details).toEqual({ method: 'cheque', reference: 'Cheque 004512', note: 'Handed in at the front desk', received_on: today() });
    const [donor] = await kettle.dataSource.query(`SELECT email, name FROM donors WHERE id = $1`, [rows[0].donor_id]);
    expect(donor).toEqual({ email: 'Grace@Example.org', name: 'Grace Hopper' });

    const receipt = await mailbox.waitFor(addressedTo('grace@example.org', /Receipt for your gift of \$1,250\.50/));
    for (const part of [receipt.text, receipt.html]) {
      expect(part).toContain('Keep the Evening Paper');
      expect(part).toContain('Received');
      expect(part).toContain('Cheque (Cheque 004512)');
      expect(part).toContain(giftId.replace(/-/g, '').slice(0, 8).toUpperCase());
    }
    await mailbox.waitFor(addressedTo('grace@example.org', /Receipt for your gift of \$100\.00/));
    await kettle.settled();
    expect(mailbox.matching(addressedTo('grace@example.org', /Receipt/))).toHaveLength(2);
    expect(receipt.text).not.toContain('Handed in at the front desk');

    const [audit] = await auditOf(giftId);
    expect(audit).toMatchObject({ action: 'offline_gift.record', before: null,
      after: { campaignId: campaign.id, amount: 1250_50, currency: 'usd', method: 'cheque', receivedOn: today(), hasReference: true, hasNote: true } });
    // Never the text of the reference or note: they may name the donor, and the audit log is kept.
    expect(JSON.stringify(audit.after)).not.toMatch(/004512|front desk/);
    expect(audit.admin_id).not.toBeNull();
    expect(await auditOf(secondId)).toHaveLength(1);
  });

  it('records a form sent twice once, and sends the second submit to the gift the first recorded', async () => {
    const campaign = await makeCampaign(kettle);
    const form = giftForm({ donor_email: 'twice@example.org' });
    const [first, second] = await Promise.all([
      admin.post(`/admin/campaigns/${campaign.slug}/offline-gifts`, form),
      admin.post(`/admin/campaigns/${campaign.slug}/offline-gifts`, form),
    ]);
    const third = await admin.post(`/admin/campaigns/${campaign.slug}/offline-gifts`, form);
    expect([first.status, second.status, third.status]).toEqual([303, 303, 303]);
    expect(new Set([first.headers.location, second.headers.location, third.headers.location]).size).toBe(1);
    expect(await giftRows(campaign)).toHaveLength(1);
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 250_00, gifts: 1, donors: 1 });
    await kettle.settled();
    expect(mailbox.matching(addressedTo('twice@example.org', /Receipt/))).toHaveLength(1);
  });

  it('refuses a form sent back with another gift typed over the one it recorded (409, the form again with a new key), then records it when sent again', async () => {
    const campaign = await makeCampaign(kettle);
    const form = giftForm({ amount: '100', reference: 'Cheque 1' });
    expect((await admin.post(`/admin/campaigns/${campaign.slug}/offline-gifts`, form)).status).toBe(303);

    // The browser's Back button, and a second cheque typed over the first on the same form.
    const reused = await admin.post(`/admin/campaigns/${campaign.slug}/offline-gifts`, { ...form, amount: '70', reference: 'Cheque 2' });
    expect(reused.status).toBe(409);
    expect(reused.text).toContain('This form had already recorded a gift, so this one was not recorded.');
    expect(reused.text).toContain('value="Cheque 2"');
    const newKey = /name="nonce" value="([^"]+)"/.exec(reused.text)![1];
    expect(newKey).not.toBe(form.nonce);
    expect(await giftRows(campaign)).toHaveLength(1);

    const again = await admin.post(`/admin/campaigns/${campaign.slug}/offline-gifts`, { ...form, amount: '70', reference: 'Cheque 2', nonce: newKey });
    expect(again.status).toBe(303);
    expect(await giftRows(campaign)).toHaveLength(2);
    expect((await totalsOf(kettle, campaign.id)).kept).toMatchObject({ raised: 170_00, gifts: 2 });
  });

  it('records an anonymous cash gift without an email: counted in the amount and gifts, not as a donor, no receipt', async () => {
    const campaign = await makeCampaign(kettle);
    const giftId = await recordGift(campaign, { amount: '20', method: 'cash', reference: '' });
    expect((await totalsOf(kettle, campaign.id))).toEqual({ kept: { raised: 20_00, gifts: 1, donors: 0 }, recomputed: { raised: 20_00, gifts: 1, donors: 0 } });
    expect(await kettle.dataSource.query(`SELECT 1 FROM email_outbox WHERE dedupe_key = $1`, [`receipt:${giftId}`])).toEqual([]);
  });

  it.each([
    [{ amount: '' }, 'Enter the amount received, in USD.'],
    [{ amount: '0' }, 'Enter an amount above zero.'],
    [{ amount: '-5' }, 'Enter an amount like 250 or 37.50, digits only.'],
    [{ amount: '1e3' }, 'Enter an amount like 250 or 37.50, digits only.'],
    [{ amount: '10.505' }, 'USD amounts have at most 2 decimals.'],
    [{ amount: '100000000.00' }, 'One offline gift is at most $99,999,999.99.'],
    [{ received_on: '' }, 'Enter the day the gift was received.'],
    [{ received_on: '2026-02-30' }, 'Enter the day as YYYY-MM-DD, like 2026-03-31.'],
    [{ received_on: '31/03/2026' }, 'Enter the day as YYYY-MM-DD, like 2026-03-31.'],
    [{ received_on: '2999-01-01' }, 'The day received cannot be in the future (days are counted in UTC).'],
    [{ received_on: '2001-01-01' }, 'Count money given before then in the campaign'],
    [{ method: '' }, 'Choose how the gift was paid.'],
    [{ method: 'bitcoin' }, 'Choose how the gift was paid.'],
    [{ reference: 'x'.repeat(101) }, 'Keep the reference to 100 characters.'],
    [{ donor_email: 'not-an-email' }, 'Enter a valid email address, like name@example.org.'],
    [{ donor_email: '', donor_name: 'Ada' }, 'Add the donor&#x27;s email to record their name'],
    [{ donor_email: 'long@example.org', donor_name: 'n'.repeat(101) }, 'Keep the name to 100 characters.'],
    [{ note: 'n'.repeat(1001) }, 'Keep the note to 1000 characters.'],
    [{ nonce: '' }, 'This form was missing its one-time key.'],
  ])('refuses %j with 400, the message beside the field, the values kept, and nothing stored', async (fields, message) => {
    const campaign = await makeCampaign(kettle);
    const form = giftForm({ donor_email: 'kept@example.org', ...fields });
    const res = await admin.post(`/admin/campaigns/${campaign.slug}/offline-gifts`, form);
    expect(res.status).toBe(400);
    expect(res.text).toContain(message);
    expect(res.text).toContain(`value="${form.donor_email}"`);
    expect(await giftRows(campaign)).toEqual([]);
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 0, gifts: 0, donors: 0 });
  });

  it('escapes what the admin typed when the form comes back', async () => {
    const campaign = await makeCampaign(kettle);
    const res = await admin.post(`/admin/campaigns/${campaign.slug}/offline-gifts`,
      giftForm({ amount: 'x', donor_email: 'e@example.org', donor_name: '<script>alert(1)</script>', note: '"><img src=x onerror=alert(2)>' }));
    expect(res.status).toBe(400);
    expect(res.text).not.toContain('<script>alert(1)</script>');
    expect(res.text).not.toContain('<img src=x');
    expect(res.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(res.text).toContain('&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(2)&gt;');
  });

  it('is refused to viewers (403) and without the CSRF token (403), storing nothing', async () => {
    const campaign = await makeCampaign(kettle);
    const viewer = await signedInAdmin(kettle, 'viewer');
    expect((await viewer.post(`/admin/campaigns/${campaign.slug}/offline-gifts`, giftForm())).status).toBe(403);
    expect((await admin.postWithoutToken(`/admin/campaigns/${campaign.slug}/offline-gifts`, giftForm())).status).toBe(403);
    expect(await giftRows(campaign)).toEqual([]);
  });
});

describe('POST /admin/gifts/:id/void', () => {
  it('reverses an offline gift once: totals, gift and donor counts drop, the donor is told, the statement lists gift and void, audited', async () => {
    const campaign = await makeCampaign(kettle, { title: 'Bounced Cheques Fund' });
    const giftId = await recordGift(campaign, { amount: '500', donor_email: 'bounce@example.org', received_on: today() });
    const keepId = await recordGift(campaign, { amount: '75', donor_email: 'stays@example.org', method: 'transfer' });
    await mailbox.waitFor(addressedTo('bounce@example.org', /Receipt/));
    await kettle.settled();
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 575_00, gifts: 2, donors: 2 });

    const res = await admin.post(`/admin/gifts/${giftId}/void`, { reason: 'Cheque returned unpaid by the bank' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/admin/gifts/${giftId}`);
    const again = await admin.post(`/admin/gifts/${giftId}/void`, { reason: 'Clicked twice' });
    expect(again.status).toBe(409);
    expect(again.text).toContain('This gift was already voided: nothing changed.');

    const { kept, recomputed } = await totalsOf(kettle, campaign.id);
    expect(kept).toEqual({ raised: 75_00, gifts: 1, donors: 1 });
    expect(recomputed).toEqual(kept);
    const voids = await kettle.dataSource.query(`SELECT amount, source FROM ledger_entries WHERE gift_entry_id = $1`, [giftId]);
    expect(voids).toEqual([{ amount: '-50000', source: 'offline' }]);
    expect(await kettle.dataSource.query(`SELECT 1 FROM ledger_entries WHERE id = $1`, [giftId])).toHaveLength(1);
    expect(await kettle.dataSource.query(`SELECT void_reason FROM offline_gifts WHERE entry_id = $1`, [giftId])).toEqual([{ void_reason: 'Cheque returned unpaid by the bank' }]);

    const notice = await mailbox.waitFor(addressedTo('bounce@example.org', /Correction/));
    expect(notice.text).toContain('the gift of $500.00 by cheque to Bounced Cheques Fund');
    expect(notice.text).not.toContain('Cheque returned unpaid');
    await kettle.settled();
    expect(mailbox.matching(addressedTo('bounce@example.org', /Correction/))).toHaveLength(1);

    const audits = await auditOf(giftId);
    expect(audits.map((a: { action: string }) => a.action)).toEqual(['offline_gift.record', 'gift.void']);
    expect(audits[1]).toMatchObject({ before: { net: 500_00, voided: false }, after: { net: 0, voided: true } });
    expect(JSON.stringify(audits[1].after)).not.toContain('returned unpaid');

    const [{ donor_id: donorId }] = await kettle.dataSource.query(`SELECT donor_id FROM ledger_entries WHERE id = $1`, [giftId]);
    const statement = (await loadStatement(kettle.dataSource.manager, donorId, new Date().getUTCFullYear(), kettle.config.receipts))!;
    expect(statement.gifts).toMatchObject([{ entryId: giftId, amount: 500_00, refunded: 500_00, voided: true, net: 0 }]);
    expect(statement.totals).toEqual([{ currency: 'usd', gifts: 1, amount: 500_00, refunded: 500_00, net: 0 }]);
    const page = await (await signedInAgent(kettle, donorId)).get(`/account/statements/${new Date().getUTCFullYear()}`);
    expect(page.text).toContain('−$500.00 voided');

    const account = await (await signedInAgent(kettle, donorId)).get('/account');
    expect(account.text).toContain('One-off gift (cheque)');
    expect(account.text).toContain('Voided');
    expect(keepId).not.toBe(giftId);
  });

  it('lists an offline gift received last year in last year\'s statement', async () => {
    const campaign = await makeCampaign(kettle, { startsAt: new Date(Date.now() - 400 * 86_400_000) });
    const lastYear = new Date().getUTCFullYear() - 1;
    const giftId = await recordGift(campaign, { amount: '40', donor_email: 'lastyear@example.org', received_on: `${lastYear}-12-31` });
    const [{ donor_id: donorId, occurred_at: at }] = await kettle.dataSource.query(`SELECT donor_id, occurred_at FROM ledger_entries WHERE id = $1`, [giftId]);
    expect(at.toISOString()).toBe(`${lastYear}-12-31T12:00:00.000Z`);
    const statement = (await loadStatement(kettle.dataSource.manager, donorId, lastYear, kettle.config.receipts))!;
    expect(statement.gifts).toMatchObject([{ entryId: giftId, amount: 40_00, refunded: 0, voided: false, net: 40_00 }]);
  });

  it('refuses to void a gift paid through Stripe (409, refund it instead), and changes nothing', async () => {
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '30', email: 'card@example.org' });
    await kettle.settled();
    const [gift] = await giftRows(campaign);
    const before = await totalsOf(kettle, campaign.id);
    const res = await admin.post(`/admin/gifts/${gift.id}/void`, { reason: 'Trying' });
    expect(res.status).toBe(409);
    expect(res.text).toContain('This gift was paid through Stripe, so it cannot be voided');
    expect(await totalsOf(kettle, campaign.id)).toEqual(before);
    expect(await kettle.dataSource.query(`SELECT 1 FROM ledger_entries WHERE gift_entry_id = $1`, [gift.id])).toEqual([]);
  });

  it('needs a reason of at most 500 characters (400, nothing voided); unknown or malformed ids are 404; viewers get 403', async () => {
    const campaign = await makeCampaign(kettle);
    const giftId = await recordGift(campaign);
    for (const reason of ['', '   ', 'r'.repeat(501)]) {
      const res = await admin.post(`/admin/gifts/${giftId}/void`, { reason });
      expect(res.status).toBe(400);
      expect(res.text).toMatch(/Say why this gift is voided|Keep the reason to 500 characters/);
    }
    expect((await admin.post('/admin/gifts/not-a-uuid/void', { reason: 'x' })).status).toBe(404);
    expect((await admin.post('/admin/gifts/00000000-0000-4000-8000-000000000000/void', { reason: 'x' })).status).toBe(404);
    const viewer = await signedInAdmin(kettle, 'viewer');
    expect((await viewer.post(`/admin/gifts/${giftId}/void`, { reason: 'x' })).status).toBe(403);
    expect((await admin.postWithoutToken(`/admin/gifts/${giftId}/void`, { reason: 'x' })).status).toBe(403);
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 250_00, gifts: 1, donors: 0 });
  });

  it('sends no receipt for a gift voided before its receipt went out, and no correction either', async () => {
    const campaign = await makeCampaign(kettle);
    await kettle.mailWorker.stop();
    let giftId: string;
    try {
      giftId = await recordGift(campaign, { donor_email: 'quick@example.org' });
      expect((await admin.post(`/admin/gifts/${giftId}/void`, { reason: 'Entered on the wrong campaign' })).status).toBe(303);
    } finally {
      kettle.mailWorker.start();
    }
    await kettle.settled();
    const outbox = await kettle.dataSource.query(`SELECT dedupe_key, status, last_error FROM email_outbox WHERE donor_id = (SELECT donor_id FROM ledger_entries WHERE id = $1)`, [giftId]);
    expect(outbox).toEqual([{ dedupe_key: `receipt:${giftId}`, status: 'skipped', last_error: expect.stringContaining('voided') }]);
    expect(mailbox.matching(addressedTo('quick@example.org'))).toEqual([]);
  });
});

describe('checks that read the ledger or Stripe', () => {
  it('npm run cli -- totals:verify finds every campaign\'s kept totals equal to the ledger, offline gifts and voids included', async () => {
    const campaign = await makeCampaign(kettle);
    const giftId = await recordGift(campaign, { donor_email: 'verify@example.org' });
    await recordGift(campaign, { amount: '12.34', method: 'other' });
    await admin.post(`/admin/gifts/${giftId}/void`, { reason: 'Duplicate' });
    const res = await cli('totals:verify');
    expect(res).toMatchObject({ code: 0, out: expect.stringContaining(`ok       ${campaign.slug}`) });
    expect(res.out).not.toMatch(/MISMATCH/i);
    expect((await verifyAllTotals(kettle.dataSource.manager)).filter((c) => !c.matches)).toEqual([]);
  });

  it('reconciliation with Stripe leaves offline gifts alone: Stripe has no object for them', async () => {
    const campaign = await makeCampaign(kettle);
    await recordGift(campaign, { donor_email: 'reconcile@example.org' });
    await donateAndPay(kettle, campaign, { amount: '15', email: 'reconcile-card@example.org' });
    await kettle.settled();
    const before = { rows: await giftRows(campaign), totals: await totalsOf(kettle, campaign.id) };
    const silent = pino({ level: 'silent' });
    const summary = await new ReconcileService(kettle.dataSource, kettle.stripe, kettle.webhooks, silent)
      .reconcile({ since: new Date(Date.now() - 3_600_000) });
    await kettle.settled();
    expect(summary.newlyStored).toBe(0);
    expect(await giftRows(campaign)).toEqual(before.rows);
    expect(await totalsOf(kettle, campaign.id)).toEqual(before.totals);
    expect(before.totals.kept).toEqual({ raised: 265_00, gifts: 2, donors: 2 });
  });
});
