import 'reflect-metadata';
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pdfSafeText, renderStatementPdf } from '../src/account/statement-pdf';
import { statementPageModel, type StatementPage } from '../src/account/statement-page';
import { statementRoutes } from '../src/account/statement.routes';
import { loadStatement, type ReceiptDetails } from '../src/account/statements.service';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { errorHandler, notFound } from '../src/web/errors';
import { makeCampaign, startTestKettle, type TestKettle } from './helpers/kettle';
import { ledgerSeed } from './helpers/ledger-seed';
import { pdfText } from './helpers/pdf-text';

const receipts: ReceiptDetails = {
  legalName: 'Test Newsroom Foundation, Inc.',
  taxId: '12-3456789',
  note: 'No goods or services were provided in exchange for these gifts.',
};
const SCRIPT_NAME = 'Ada <script>alert("x")</script> Lovelace';

let kettle: TestKettle;
let seed: ReturnType<typeof ledgerSeed>;
let usd: Campaign;
let eur: Campaign;
let ada: string;
let bob: string;
let quiet: string;

/**
 * Ada's year 2026, as Stripe's webhooks would have recorded it: one-off gifts, a monthly plan with
 * renewals, a partial refund, a lost dispute, a refund that was reversed, a gift in euros refunded
 * in part after the year ended, and gifts on both edges of the year (UTC). Outside it: her gifts
 * of 2025 and 2027, and Bob's gift.
 */
beforeAll(async () => {
  kettle = await startTestKettle();
  seed = ledgerSeed(kettle);
  usd = await makeCampaign(kettle, { title: 'Keep the night desk open' });
  eur = await makeCampaign(kettle, { title: 'Europe desk', currency: 'eur' });
  ada = await seed.donor('ada@example.org', SCRIPT_NAME);
  bob = await seed.donor('bob@example.org', 'Bob');
  quiet = await seed.donor('quiet@example.org', 'Quiet');

  const first = await seed.gift(usd, ada, 50_00, '2026-01-01T00:00:00.000Z');
  await seed.adjust('refund', first, 15_00, 'usd', '2026-02-01T10:00:00Z');
  const plan = { frequency: 'monthly' as const, subscription: 'sub_ada' };
  await seed.gift(usd, ada, 10_00, '2026-03-05T12:00:00Z', { ...plan, renewal: false });
  await seed.gift(usd, ada, 10_00, '2026-04-05T12:00:00Z', { ...plan, renewal: true });
  await seed.gift(usd, ada, 10_00, '2026-05-05T12:00:00Z', { ...plan, renewal: true });
  const disputed = await seed.gift(usd, ada, 10_00, '2026-06-05T12:00:00Z', { ...plan, renewal: true });
  await seed.adjust('dispute_lost', disputed, 10_00, 'usd', '2026-07-20T09:00:00Z');
  const reversed = await seed.gift(usd, ada, 25_00, '2026-07-01T08:00:00Z');
  const refundId = await seed.adjust('refund', reversed, 25_00, 'usd', '2026-07-02T08:00:00Z');
  await seed.adjust('refund_reversal', reversed, 25_00, 'usd', '2026-07-04T08:00:00Z', refundId);
  const euros = await seed.gift(eur, ada, 30_00, '2026-08-01T08:00:00Z');
  await seed.adjust('refund', euros, 5_00, 'eur', '2027-01-10T08:00:00Z');
  await seed.gift(usd, ada, 12_34, '2026-12-31T23:59:59.999Z');

  await seed.gift(usd, ada, 99_00, '2025-12-31T23:59:59.999Z');
  await seed.gift(usd, ada, 77_00, '2027-01-01T00:00:00.000Z');
  await seed.gift(usd, bob, 500_00, '2026-05-01T08:00:00Z');
});
afterAll(() => kettle?.close());

/** The donor's net per currency for a year, recomputed from the ledger rows alone. */
async function ledgerNet(donorId: string, year: number): Promise<Record<string, number>> {
  const rows: { currency: string; net: string }[] = await kettle.dataSource.query(
    `SELECT g.currency, SUM(e.amount)::bigint AS net
       FROM ledger_entries e JOIN ledger_entries g ON g.id = COALESCE(e.gift_entry_id, e.id)
      WHERE g.kind = 'gift' AND g.donor_id = $1 AND date_part('year', g.occurred_at AT TIME ZONE 'UTC') = $2
      GROUP BY g.currency`,
    [donorId, year],
  );
  return Object.fromEntries(rows.map((r) => [r.currency, Number(r.net)]));
}

const statementOf = async (donorId: string, year: number) => (await loadStatement(kettle.dataSource.manager, donorId, year, receipts))!;

describe('a donor\'s yearly statement', () => {
  it('lists every gift of the calendar year (UTC) with what was refunded of it, and totals that equal the ledger', async () => {
    const statement = await statementOf(ada, 2026);
    expect(statement.donor).toEqual({ id: ada, name: SCRIPT_NAME, email: 'ada@example.org' });
    expect(statement.organisation).toEqual(receipts);
    expect(statement.gifts.map((g) => [g.occurredAt.toISOString(), g.campaignTitle, g.frequency, g.currency, g.amount, g.refunded, g.net])).toEqual([
      ['2026-01-01T00:00:00.000Z', 'Keep the night desk open', 'once', 'usd', 50_00, 15_00, 35_00],
      ['2026-03-05T12:00:00.000Z', 'Keep the night desk open', 'monthly', 'usd', 10_00, 0, 10_00],
      ['2026-04-05T12:00:00.000Z', 'Keep the night desk open', 'monthly', 'usd', 10_00, 0, 10_00],
      ['2026-05-05T12:00:00.000Z', 'Keep the night desk open', 'monthly', 'usd', 10_00, 0, 10_00],
      ['2026-06-05T12:00:00.000Z', 'Keep the night desk open', 'monthly', 'usd', 10_00, 10_00, 0],
      ['2026-07-01T08:00:00.000Z', 'Keep the night desk open', 'once', 'usd', 25_00, 0, 25_00],
      ['2026-08-01T08:00:00.000Z', 'Europe desk', 'once', 'eur', 30_00, 5_00, 25_00],
      ['2026-12-31T23:59:59.999Z', 'Keep the night desk open', 'once', 'usd', 12_34, 0, 12_34],
    ]);
    // Two currencies, two totals: never one sum across them.
    expect(statement.totals).toEqual([
      { currency: 'usd', gifts: 7, amount: 127_34, refunded: 25_00, net: 102_34 },
      { currency: 'eur', gifts: 1, amount: 30_00, refunded: 5_00, net: 25_00 },
    ]);
    const recomputed = await ledgerNet(ada, 2026);
    expect(Object.fromEntries(statement.totals.map((t) => [t.currency, t.net]))).toEqual(recomputed);
  });

  it('counts each gift in its own year only, and only the donor\'s own', async () => {
    expect((await statementOf(ada, 2025)).totals).toEqual([{ currency: 'usd', gifts: 1, amount: 99_00, refunded: 0, net: 99_00 }]);
    expect((await statementOf(ada, 2027)).totals).toEqual([{ currency: 'usd', gifts: 1, amount: 77_00, refunded: 0, net: 77_00 }]);
    const bobs = await statementOf(bob, 2026);
    expect(bobs.gifts.map((g) => g.amount)).toEqual([500_00]);
    expect(bobs.totals.map((t) => t.net)).toEqual([(await ledgerNet(bob, 2026)).usd]);
  });

  it('is empty for a year without gifts, and there is none for an unknown donor', async () => {
    expect(await statementOf(quiet, 2026)).toMatchObject({ gifts: [], totals: [] });
    expect(await loadStatement(kettle.dataSource.manager, '00000000-0000-4000-8000-000000000000', 2026, receipts)).toBeNull();
  });
});

describe('the printable statement page', () => {
  let page: StatementPage;
  beforeAll(async () => {
    page = statementPageModel(await statementOf(ada, 2026), new Date('2027-01-15T12:00:00Z'));
  });

  it('formats every gift and total in its own currency, with refunds deducted', () => {
    expect(page).toMatchObject({ title: 'Giving statement 2026', issuedOn: 'January 15, 2027', hasGifts: true, anyRefunds: true, pdfUrl: '/account/statements/2026.pdf' });
    expect(page.gifts[0]).toMatchObject({ date: 'Jan 1, 2026', campaign: 'Keep the night desk open', frequency: 'One-off', amount: '$50.00', refunded: '$15.00', net: '$35.00' });
    expect(page.gifts[0].referenceFull).toMatch(/^[0-9a-f-]{36}$/);
    expect(page.gifts[0].reference).toBe(page.gifts[0].referenceFull.slice(0, 8).toUpperCase());
    expect(page.gifts[1]).toMatchObject({ frequency: 'Monthly', amount: '$10.00', refunded: null, net: '$10.00' });
    expect(page.totals).toEqual([
      { currency: 'USD', giftCount: '7 gifts', amount: '$127.34', refunded: '$25.00', net: '$102.34' },
      { currency: 'EUR', giftCount: '1 gift', amount: '€30.00', refunded: '€5.00', net: '€25.00' },
    ]);
  });

  it('renders with the receipt details, print styles, and the donor\'s name escaped', async () => {
    const html = await new Promise<string>((resolve, reject) =>
      kettle.app.render('account/statement', page, (err, out) => (err ? reject(err) : resolve(out))));
    for (const text of ['Giving statement 2026', receipts.legalName, receipts.taxId!, receipts.note, '$102.34', '€25.00', '−$15.00', 'Europe desk', '/assets/statement.css', 'href="/account/statements/2026.pdf"']) {
      expect(html).toContain(text);
    }
    expect(html).toContain('Ada &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Lovelace');
    expect(html).not.toContain('<script>alert');
  });
});

describe('the statement PDF', () => {
  it('is a whole PDF with the same gifts, totals and receipt details', async () => {
    const page = statementPageModel(await statementOf(ada, 2026));
    const pdf = await renderStatementPdf(page, { compress: false });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.subarray(-6).toString().trim()).toBe('%%EOF');
    const text = pdfText(pdf);
    for (const expected of ['Giving statement 2026', receipts.legalName, receipts.taxId!, receipts.note, '$102.34', '$50.00', '-$15.00', '$12.34', 'Europe desk', page.gifts[0].reference]) {
      expect(text).toContain(expected);
    }
    // PDF text is not markup: the name is drawn as typed, and nothing in it can break the file.
    expect(text).toContain(SCRIPT_NAME);
  });

  it('reads the same compressed, as it is served', async () => {
    const pdf = await renderStatementPdf(statementPageModel(await statementOf(ada, 2026)));
    expect(pdfText(pdf)).toContain('$102.34');
  });

  it('draws names in any script without breaking: accents kept or simplified, the rest shown as "?"', async () => {
    expect(pdfSafeText('Zoë Ångström “Ö” – €5')).toBe('Zoë Ångström “Ö” – €5');
    expect(pdfSafeText('Łukasz Świątek Nguyễn')).toBe('Lukasz Swiatek Nguyen');
    expect(pdfSafeText('张伟 👩‍👩‍👧 😀 Ада')).toBe('?? ? ? ???');
    expect(pdfSafeText('line\nbreak\u0000')).toBe('line break ');

    const donor = await seed.donor('zhang@example.org', '张伟 👩‍👩‍👧 Zoë');
    await seed.gift(usd, donor, 20_00, '2026-09-09T09:00:00Z');
    const pdf = await renderStatementPdf(statementPageModel(await statementOf(donor, 2026)), { compress: false });
    expect(pdf.subarray(-6).toString().trim()).toBe('%%EOF');
    expect(pdfText(pdf)).toContain('?? ? Zoë · zhang@example.org');
  });
});

describe('GET /account/statements/:year', () => {
  /**
   * The statement routes as the account area mounts them, behind its session (stood in for here
   * by a fixed donor id), rendered by the Kettle app's own views and error pages.
   */
  function accountApp(donorId: string | null) {
    const app = express();
    app.set('views', kettle.app.get('views'));
    app.set('view engine', 'hbs');
    app.engine('hbs', (file, options, done) => kettle.app.render(file, options as object, done));
    app.use((req, _res, next) => {
      (req as unknown as { session: { donorId?: string } }).session = donorId ? { donorId } : {};
      next();
    });
    app.use('/account', statementRoutes({ dataSource: kettle.dataSource, receipts }));
    app.use(notFound);
    app.use(errorHandler(pino({ level: 'silent' })));
    return app;
  }

  it('sends whoever is not signed in to sign in', async () => {
    for (const path of ['/account/statements/2026', '/account/statements/2026.pdf', '/account/statements/nope']) {
      const res = await request(accountApp(null)).get(path);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/account/sign-in');
    }
  });

  it('shows the signed-in donor their statement, never cached', async () => {
    const res = await request(accountApp(ada)).get('/account/statements/2026');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.text).toContain('$102.34');
    expect(res.text).toContain('Ada &lt;script&gt;');
    expect(res.text).not.toContain('$500.00'); // Bob's
  });

  it('serves the PDF as a download with a safe file name, never cached', async () => {
    const res = await request(accountApp(ada)).get('/account/statements/2026.pdf').buffer(true)
      .parse((r, done) => { const chunks: Buffer[] = []; r.on('data', (c: Buffer) => chunks.push(c)); r.on('end', () => done(null, Buffer.concat(chunks))); });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['content-disposition']).toBe('attachment; filename=giving-statement-2026.pdf');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(pdfText(res.body as Buffer)).toContain('$102.34');
  });

  it('says so when there were no gifts that year (page), and has no PDF for it', async () => {
    const page = await request(accountApp(quiet)).get('/account/statements/2026');
    expect(page.status).toBe(200);
    expect(page.text).toContain('We have no gifts from you in 2026.');
    expect(page.text).not.toContain('Download PDF');
    const pdf = await request(accountApp(quiet)).get('/account/statements/2026.pdf');
    expect(pdf.status).toBe(404);
    expect(pdf.text).toContain('We have no gifts from you in 2026, so there is no statement to download.');
  });

  it.each([
    ['/account/statements/26', 404, 'We could not find that statement.'],
    ['/account/statements/2026.csv', 404, 'We could not find that statement.'],
    ['/account/statements/%3Cscript%3E', 404, 'We could not find that statement.'],
    ['/account/statements/1999', 400, 'Statements are available for the years 2000 to'],
    [`/account/statements/${new Date().getUTCFullYear() + 2}.pdf`, 400, 'Statements are available for the years 2000 to'],
  ])('answers %s with %i and a page that explains', async (path, status, message) => {
    const res = await request(accountApp(ada)).get(path);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain(message);
  });
});
