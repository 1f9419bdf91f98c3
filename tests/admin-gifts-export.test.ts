import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { recordOfflineGift, voidOfflineGift } from '../src/admin/offline-gifts/offline-gifts.service';
import { recordLedgerEntries, type NewGift } from '../src/ledger/ledger.service';
import { signedInAdmin, type AdminBrowser } from './helpers/admin';
import { donateAndPay } from './helpers/flows';
import { makeCampaign, startTestKettle, type TestKettle } from './helpers/kettle';
import { ledgerSeed } from './helpers/ledger-seed';

let kettle: TestKettle;
let admin: AdminBrowser;

beforeAll(async () => {
  kettle = await startTestKettle();
  admin = await signedInAdmin(kettle, 'viewer');
});
afterAll(() => kettle?.close());

/** The CSV an export answers, as rows of cells (the byte order mark left out). */
async function exported(query: string): Promise<string[][]> {
  const res = await admin.get(`/admin/exports/gifts.csv${query}`).buffer(true).parse((response, done) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
  });
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
  const text = res.body as string;
  expect(text.charCodeAt(0)).toBe(0xfeff);
  return parseCsv(text.slice(1));
}

/** RFC 4180 as csv-stringify writes it: quoted cells may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i += 1; } else if (ch === '"') quoted = false; else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(cell); cell = ''; } else if (ch === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; } else cell += ch;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

describe('GET /admin/exports/gifts.csv', () => {
  let campaign: Campaign;
  let other: Campaign;
  const names = ['=cmd|calc', '+SUM(1)', '-2+3', '@import', '\tTabbed', '\rCarriage', 'Said "hello", twice', 'Line one\nLine two', 'Zoë Ünïcode 日本語'];

  beforeAll(async () => {
    campaign = await makeCampaign(kettle, { slug: 'csv-drive' });
    other = await makeCampaign(kettle, { slug: 'csv-other' });
    const seed = ledgerSeed(kettle);
    for (const [i, name] of names.entries()) {
      const donor = await seed.donor(`csv${i}@example.org`, name);
      // Donors are stored trimmed; a name may still start with a tab or CR from elsewhere (an import, say).
      await kettle.dataSource.query(`UPDATE donors SET name = $2 WHERE id = $1`, [donor, name]);
      await seed.gift(campaign, donor, 12_50 + i, `2026-03-0${1 + (i % 9)}T10:00:00Z`);
    }
    const refunded = await seed.gift(other, await seed.donor('refunded@example.org', 'Refunded Person'), 40_00, '2025-06-15T08:30:00.123456Z');
    await seed.adjust('refund', refunded, 15_50, 'usd', '2025-06-16T00:00:00Z');
  });

  it('writes one row per gift with ISO dates (as donors.csv and subscribers.csv write them), major-unit amounts, refunded part and net', async () => {
    const rows = await exported('?campaign=csv-other');
    expect(rows[0]).toEqual(['gift_id', 'date', 'campaign', 'donor_name', 'donor_email', 'kind', 'source', 'currency', 'amount', 'fee_cover', 'refunded', 'voided', 'net',
      'stripe_payment_intent', 'offline_method', 'offline_reference', 'dedication']);
    expect(rows).toHaveLength(2);
    expect(rows[1].slice(1, 13)).toEqual(['2025-06-15T08:30:00.123Z', 'csv-other', 'Refunded Person', 'refunded@example.org', 'One-off', 'online', 'USD', '40.00', '0.00', '15.50', '0.00', '24.50']);
    expect(rows[1][13]).toMatch(/^pi_/);
  });

  it('makes donor-typed cells spreadsheet-safe and keeps quotes, newlines and UTF-8 whole', async () => {
    const rows = await exported('?campaign=csv-drive');
    const byEmail = new Map(rows.slice(1).map((r) => [r[4], r[3]]));
    expect(names.map((_, i) => byEmail.get(`csv${i}@example.org`))).toEqual([
      "'=cmd|calc", "'+SUM(1)", "'-2+3", "'@import", "'\tTabbed", "'\rCarriage", 'Said "hello", twice', 'Line one\nLine two', 'Zoë Ünïcode 日本語',
    ]);
  });

  it('applies the same filters as the list', async () => {
    expect((await exported('?refunded=yes')).slice(1).map((r) => r[3])).toEqual(['Refunded Person']);
    expect((await exported('?fy=2026&q=%C3%BCn%C3%AFcode')).slice(1).map((r) => r[4])).toEqual(['csv8@example.org']);
    expect(await exported('?source=offline')).toHaveLength(1);
  });

  it('gives offline gifts their method and reference (made spreadsheet-safe), and nothing personal of an erased donor', async () => {
    const campaign = await makeCampaign(kettle, { slug: 'csv-offline' });
    const [{ id: adminId }] = await kettle.dataSource.query(`SELECT id FROM admin_accounts WHERE email = $1`, [admin.email]);
    await recordOfflineGift(kettle.dataSource, campaign, {
      amount: 75_00, receivedOn: '2026-04-01', method: 'transfer', reference: '=HYPERLINK("x")', donorEmail: 'gone@example.org', donorName: 'Gone Donor', note: null, formKey: crypto.randomUUID(),
    }, adminId);
    // As an erasure leaves the donor (src/admin/donors/donor-erasure.ts).
    await kettle.dataSource.query(`UPDATE donors SET email = 'erased+' || id || '@invalid', name = NULL, erased_at = now() WHERE lower(email) = 'gone@example.org'`);
    const [, row] = await exported('?campaign=csv-offline');
    expect(row.slice(2)).toEqual(['csv-offline', '', '', 'One-off', 'offline', 'USD', '75.00', '0.00', '0.00', '0.00', '75.00', '', 'transfer', `'=HYPERLINK("x")`, '']);
    const [audit] = await kettle.dataSource.query(`SELECT after FROM admin_audit_log WHERE action = 'export.gifts' ORDER BY id DESC LIMIT 1`);
    expect(audit.after).toMatchObject({ campaign: 'csv-offline' });
  });

  it('gives the fee cover and the dedication (spreadsheet-safe) of a gift made through the donate form', async () => {
    const campaign = await makeCampaign(kettle, { slug: 'csv-dedicated' });
    await donateAndPay(kettle, campaign, { amount: '20', email: 'dedicated@example.org', cover_fees: 'yes', dedication: '=In memory of Grandpa' });
    const [header, row] = await exported('?campaign=csv-dedicated');
    const cell = Object.fromEntries(header.map((name, i) => [name, row[i]]));
    expect(Number(cell.fee_cover)).toBeGreaterThan(0);
    expect(Number(cell.amount)).toBeCloseTo(20 + Number(cell.fee_cover), 2);
    expect(cell.dedication).toBe(`'=In memory of Grandpa`);
  });

  it('shows a voided offline gift as voided, not refunded; its net is nothing', async () => {
    const campaign = await makeCampaign(kettle, { slug: 'csv-voided' });
    const [{ id: adminId }] = await kettle.dataSource.query(`SELECT id FROM admin_accounts WHERE email = $1`, [admin.email]);
    const { entryId } = await recordOfflineGift(kettle.dataSource, campaign, {
      amount: 20_00, receivedOn: '2026-04-02', method: 'cheque', reference: null, donorEmail: null, donorName: null, note: null, formKey: crypto.randomUUID(),
    }, adminId);
    expect((await voidOfflineGift(kettle.dataSource, entryId!, 'Entered twice', adminId)).kind).toBe('voided');
    const [header, row] = await exported('?campaign=csv-voided');
    const cell = Object.fromEntries(header.map((name, i) => [name, row[i]]));
    expect([cell.amount, cell.refunded, cell.voided, cell.net]).toEqual(['20.00', '0.00', '20.00', '0.00']);
  });
});

describe('exporting 100,000 gifts', () => {
  const GIFTS = 100_000;

  beforeAll(async () => {
    const campaign = await makeCampaign(kettle, { slug: 'big-export' });
    const donor = await ledgerSeed(kettle).donor('big@example.org', 'Big Donor');
    const start = Date.UTC(2020, 0, 1);
    for (let batch = 0; batch < GIFTS / 10_000; batch += 1) {
      const gifts: NewGift[] = Array.from({ length: 10_000 }, (_, i) => {
        const n = batch * 10_000 + i;
        return { kind: 'gift', campaignId: campaign.id, donorId: donor, amount: 10_00 + (n % 500), currency: 'usd', source: 'stripe', frequency: 'once', stripePaymentIntentId: `pi_big_${n}`, occurredAt: new Date(start + n * 60_000) };
      });
      await kettle.dataSource.transaction((tx) => recordLedgerEntries(tx, gifts));
    }
  }, 120_000);

  it('streams every row while the heap stays far below the size of the file', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const baseline = process.memoryUsage().heapUsed;
    let peakGrowth = 0;
    let bytes = 0;
    let lines = 0;
    let nextSample = 10_000;
    await admin.get('/admin/exports/gifts.csv?campaign=big-export').buffer(true).parse((response, done) => {
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
        if (lines >= nextSample) {
          nextSample += 10_000;
          gc();
          peakGrowth = Math.max(peakGrowth, process.memoryUsage().heapUsed - baseline);
        }
      });
      response.on('end', () => done(null, null));
    });
    expect(lines).toBe(GIFTS + 1);
    expect(bytes).toBeGreaterThan(10_000_000);
    expect(peakGrowth).toBeLessThan(bytes / 3);
  }, 120_000);
});
