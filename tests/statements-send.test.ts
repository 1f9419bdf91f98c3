import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceiptDetails } from '../src/account/statements.service';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { renderStatementMail } from '../src/email/mails/statement';
import { makeCampaign, startTestKettle, type TestKettle } from './helpers/kettle';
import { ledgerSeed } from './helpers/ledger-seed';
import { mailContext, mailFor, testLinks } from './helpers/mail-render';
import { pdfText } from './helpers/pdf-text';
import { cliOn } from './helpers/cli';

const receipts: ReceiptDetails = { legalName: 'Test Newsroom Foundation, Inc.', taxId: '12-3456789', note: 'No goods or services were provided.' };

let kettle: TestKettle;
let seed: ReturnType<typeof ledgerSeed>;
let usd: Campaign;
let eur: Campaign;
beforeAll(async () => {
  kettle = await startTestKettle();
  seed = ledgerSeed(kettle);
  usd = await makeCampaign(kettle, { title: 'Keep the night desk open' });
  eur = await makeCampaign(kettle, { title: 'Europe desk', currency: 'eur' });
});
afterAll(() => kettle?.close());

const cli = cliOn(() => kettle.dbUrl);

const statementMails = (year: number): Promise<{ dedupe_key: string; donor_id: string; params: unknown; status: string }[]> =>
  kettle.dataSource.query(`SELECT dedupe_key, donor_id, params, status FROM email_outbox WHERE kind = 'statement' AND params->>'year' = $1 ORDER BY dedupe_key`, [String(year)]);

describe('npm run cli -- statements:send', () => {
  it('queues one statement mail per donor who gave that year, and a second run queues nothing new', async () => {
    const ann = await seed.donor('ann@example.org', 'Ann');
    const ben = await seed.donor('ben@example.org', 'Ben');
    const cat = await seed.donor('cat@example.org', 'Cat');
    const dan = await seed.donor('dan@example.org', 'Dan');
    // Ann gave three times (two currencies); Ben once; Cat's only gift was refunded; Dan gave the year before and after.
    await seed.gift(usd, ann, 10_00, '2025-02-01T10:00:00Z');
    await seed.gift(usd, ann, 10_00, '2025-03-01T10:00:00Z', { frequency: 'monthly', subscription: 'sub_ann', renewal: false });
    await seed.gift(eur, ann, 20_00, '2025-12-31T23:59:59Z');
    await seed.gift(usd, ben, 50_00, '2025-01-01T00:00:00Z');
    const refunded = await seed.gift(usd, cat, 30_00, '2025-06-01T10:00:00Z');
    await seed.adjust('refund', refunded, 30_00, 'usd', '2025-06-02T10:00:00Z');
    await seed.gift(usd, dan, 40_00, '2024-12-31T23:59:59Z');
    await seed.gift(usd, dan, 40_00, '2026-01-01T00:00:00Z');

    const first = await cli('statements:send', '--year', '2025');
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out).toBe('Queued 2 statement mails for 2025 (0 of the 2 donors who gave that year were already queued).');
    expect(await statementMails(2025)).toEqual([ann, ben].sort().map((donorId) => ({
      dedupe_key: `statement:2025:${donorId}`, donor_id: donorId, params: { year: 2025 }, status: 'pending',
    })));

    // A donor who gives for the first time after the run is queued by the next; nobody twice.
    const eve = await seed.donor('eve@example.org', 'Eve');
    await seed.gift(usd, eve, 5_00, '2025-07-07T07:00:00Z');
    const second = await cli('statements:send', '--year', '2025');
    expect(second.out).toBe('Queued 1 statement mails for 2025 (2 of the 3 donors who gave that year were already queued).');
    const third = await cli('statements:send', '--year', '2025');
    expect(third.out).toBe('Queued 0 statement mails for 2025 (3 of the 3 donors who gave that year were already queued).');
    expect((await statementMails(2025)).map((m) => m.donor_id).sort()).toEqual([ann, ben, eve].sort());
  });

  it('queues every donor in one statement however many there are', async () => {
    await kettle.dataSource.query(
      `WITH d AS (INSERT INTO donors (email) SELECT 'bulk' || n || '@example.org' FROM generate_series(1, 2000) n RETURNING id)
       INSERT INTO ledger_entries (campaign_id, donor_id, kind, amount, currency, source, frequency, occurred_at)
       SELECT $1, id, 'gift', 1000, 'usd', 'offline', 'once', '2024-05-05T00:00:00Z' FROM d`,
      [usd.id],
    );
    const res = await cli('statements:send', '--year', '2024');
    // Dan's 2024 gift and the 2,000 others.
    expect(res.out).toBe('Queued 2001 statement mails for 2024 (0 of the 2001 donors who gave that year were already queued).');
  });

  it.each([
    [[], '--year is required, e.g. --year 2026'],
    [['--year', '25'], '--year must be a year from 2000 to'],
    [['--year', '1999'], '--year must be a year from 2000 to'],
    [['--year', String(new Date().getUTCFullYear() + 1)], '--year must be a year from 2000 to'],
    [['--year', '2025', '--donor', 'x'], "Unknown option '--donor'"],
  ])('refuses %j with a clear message', async (args, message) => {
    const res = await cli('statements:send', ...args);
    expect(res.code).toBe(2);
    expect(res.err).toContain(message);
  });
});

describe('the statement mail', () => {
  const render = async (donorId: string, params: Record<string, unknown>) => renderStatementMail(await mailFor(kettle, donorId, params), mailContext(kettle, receipts));

  it('states the year\'s totals, links to the statement through the manage link, and attaches the PDF', async () => {
    const zoe = await seed.donor('zoe@example.org', 'Zoë <b>Bold</b>');
    const gift = await seed.gift(usd, zoe, 120_00, '2023-03-03T10:00:00Z');
    await seed.adjust('refund', gift, 20_00, 'usd', '2023-04-01T10:00:00Z');
    await seed.gift(eur, zoe, 15_50, '2023-05-05T10:00:00Z');

    const mail = await render(zoe, { year: 2023 });
    if ('skip' in mail) throw new Error(mail.skip);
    expect(mail.subject).toBe('Your 2023 giving statement from Test Newsroom');
    expect(mail.text).toContain('Total USD (1 gift): $100.00 ($120.00 given, $20.00 refunded)');
    expect(mail.text).toContain('Total EUR (1 gift): €15.50');
    expect(mail.text).toContain('Dear Zoë <b>Bold</b>,');
    expect(mail.html).toContain('Dear Zoë &lt;b&gt;Bold&lt;/b&gt;,');
    expect(mail.html).toContain(receipts.legalName);
    expect(mail.html).toContain('Tax ID 12-3456789');

    const url = new URL(/https?:\/\/\S+/.exec(mail.text.split('\n').find((l) => l.includes('/account/manage/'))!)![0]);
    expect(url.searchParams.get('next')).toBe('/account/statements/2023');
    expect(testLinks(kettle).checkManageToken(url.pathname.split('/').pop()!)).toEqual({ ok: true, value: { donorId: zoe } });
    const button = /<a href="([^"]+)"[^>]*>See your 2023 statement<\/a>/.exec(mail.html)![1];
    expect(button.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&')).toBe(url.href);

    expect(mail.attachments).toHaveLength(1);
    const [pdf] = mail.attachments!;
    expect(pdf).toMatchObject({ filename: 'giving-statement-2023.pdf', contentType: 'application/pdf' });
    expect(pdf.content.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdfText(pdf.content)).toContain('$100.00');
  });

  it('is skipped when nothing is left to state (every gift refunded) or the year is not one', async () => {
    const max = await seed.donor('max@example.org', null);
    const gift = await seed.gift(usd, max, 30_00, '2022-02-02T10:00:00Z');
    await seed.adjust('refund', gift, 30_00, 'usd', '2022-02-03T10:00:00Z');
    expect(await render(max, { year: 2022 })).toEqual({ skip: 'nothing left to state for 2022: every gift was refunded' });
    expect(await render(max, { year: 'x' })).toEqual({ skip: 'the statement has no valid year' });
  });
});
