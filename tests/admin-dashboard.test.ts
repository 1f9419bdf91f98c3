import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignStats, type CampaignStats } from '../src/admin/dashboard/campaign-stats';
import { paceWindowWords } from '../src/admin/dashboard/dashboard-page';
import { DAY_MS, HOUR_MS, MAX_POINTS, monthlyShareOfAnnual, paceOf } from '../src/admin/dashboard/pace';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { findCampaignBySlug } from '../src/campaigns/campaign.service';
import { recordLedgerEntry } from '../src/ledger/ledger.service';
import { signedInAdmin } from './helpers/admin';
import { donateAndPay } from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';
import { ledgerSeed } from './helpers/ledger-seed';

let kettle: TestKettle;
beforeAll(async () => {
  kettle = await startTestKettle();
});
afterAll(() => kettle?.close());

const ago = (ms: number) => new Date(Date.now() - ms);
const iso = (ms: number) => ago(ms).toISOString();

/** Money pledged before the campaign opened is a campaign setting, not a ledger entry. */
async function withStartingAmount(campaign: Campaign, startingAmount: number): Promise<Campaign> {
  await kettle.dataSource.query(`UPDATE campaigns SET starting_amount = $2 WHERE id = $1`, [campaign.id, startingAmount]);
  return (await findCampaignBySlug(kettle.dataSource, campaign.slug))!;
}

/** An offline gift as the console records one: through recordLedgerEntry, no Stripe ids. */
function offlineGift(campaign: Campaign, donorId: string | null, amount: number, at: Date) {
  return kettle.dataSource.transaction((tx) => recordLedgerEntry(tx, {
    kind: 'gift', campaignId: campaign.id, donorId, amount, currency: campaign.currency, source: 'offline', frequency: null, occurredAt: at, offlineKey: `test:${randomUUID()}`,
  }));
}

/** The dashboard's figures recomputed from the ledger the plain way: one row per gift with its net. */
async function recomputedFromLedger(campaign: Campaign) {
  const gifts: { frequency: string | null; renewal: boolean; amount: string; net: string }[] = await kettle.dataSource.query(
    `SELECT g.frequency, g.renewal, g.amount, g.amount + COALESCE((SELECT SUM(a.amount) FROM ledger_entries a WHERE a.gift_entry_id = g.id), 0) AS net
       FROM ledger_entries g WHERE g.campaign_id = $1 AND g.kind = 'gift'`, [campaign.id]);
  const [{ median }] = await kettle.dataSource.query(
    `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY net)::bigint AS median FROM (
       SELECT g.amount + COALESCE((SELECT SUM(a.amount) FROM ledger_entries a WHERE a.gift_entry_id = g.id), 0) AS net
         FROM ledger_entries g WHERE g.campaign_id = $1 AND g.kind = 'gift') n WHERE net > 0`, [campaign.id]);
  const adjustments: { kind: string; amount: string }[] = await kettle.dataSource.query(
    `SELECT kind, amount FROM ledger_entries WHERE campaign_id = $1 AND kind <> 'gift'`, [campaign.id]);
  const rows = gifts.map((g) => ({ ...g, amount: Number(g.amount), net: Number(g.net), recurring: g.frequency === 'monthly' || g.frequency === 'annual' }));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const firstPayments = (frequency: string) => rows.filter((g) => g.frequency === frequency && !g.renewal && g.net > 0);
  return {
    oneOff: { amount: sum(rows.filter((g) => !g.recurring).map((g) => g.net)), gifts: rows.filter((g) => !g.recurring && g.net > 0).length },
    recurring: { amount: sum(rows.filter((g) => g.recurring).map((g) => g.net)), gifts: rows.filter((g) => g.recurring && g.net > 0).length },
    median: median === null ? null : Number(median),
    monthlyPlans: { count: firstPayments('monthly').length, amount: sum(firstPayments('monthly').map((g) => g.amount)) },
    annualPlans: { count: firstPayments('annual').length, amount: sum(firstPayments('annual').map((g) => g.amount)) },
    refunded: -sum(adjustments.filter((a) => a.kind !== 'dispute_lost').map((a) => Number(a.amount))),
    disputesLost: -sum(adjustments.filter((a) => a.kind === 'dispute_lost').map((a) => Number(a.amount))),
  };
}

describe('the campaign figures', () => {
  let campaign: Campaign;
  let stats: CampaignStats;

  beforeAll(async () => {
    campaign = await withStartingAmount(await makeCampaign(kettle, {
      goalAmount: 10_000_00, startsAt: ago(10 * DAY_MS), endsAt: new Date(Date.now() + 20 * DAY_MS),
    }), 1_500_00);
    const seed = ledgerSeed(kettle);
    const ada = await seed.donor('ada@example.org', 'Ada');
    const bo = await seed.donor('bo@example.org', 'Bo');
    const cy = await seed.donor('cy@example.org', 'Cy');
    const oneOff = await seed.gift(campaign, ada, 50_00, iso(9 * DAY_MS));
    await seed.gift(campaign, bo, 20_00, iso(8 * DAY_MS));
    const refundedInFull = await seed.gift(campaign, cy, 80_00, iso(6 * DAY_MS));
    const disputed = await seed.gift(campaign, bo, 35_00, iso(5 * DAY_MS));
    await seed.gift(campaign, ada, 10_00, iso(4 * DAY_MS), { frequency: 'monthly', subscription: 'sub_ada', renewal: false });
    await seed.gift(campaign, ada, 10_00, iso(3 * DAY_MS), { frequency: 'monthly', subscription: 'sub_ada', renewal: true });
    await seed.gift(campaign, cy, 25_00, iso(3 * DAY_MS), { frequency: 'monthly', subscription: 'sub_cy', renewal: false });
    await seed.gift(campaign, bo, 100_01, iso(2 * DAY_MS), { frequency: 'annual', subscription: 'sub_bo', renewal: false });
    await seed.gift(campaign, cy, 120_00, iso(2 * DAY_MS), { frequency: 'annual', subscription: 'sub_cy2', renewal: false });
    await offlineGift(campaign, ada, 300_00, ago(DAY_MS));
    await offlineGift(campaign, null, 45_00, ago(12 * HOUR_MS));
    await seed.adjust('refund', oneOff, 15_00, 'usd', iso(2 * DAY_MS));
    await seed.adjust('refund', refundedInFull, 80_00, 'usd', iso(DAY_MS));
    await seed.adjust('dispute_lost', disputed, 35_00, 'usd', iso(DAY_MS));
    await donateAndPay(kettle, campaign, { amount: '30.00', email: 'dee@example.org', name: 'Dee Donor', anonymous: '1' });
    await donateAndPay(kettle, campaign, { amount: '40.00', email: 'eve@example.org', name: 'Eve Named' });
    stats = await campaignStats(kettle.dataSource, campaign);
  });

  it('raise, gifts and donors equal a recomputation from the ledger, with the starting amount counted in raised and shown apart', async () => {
    const { kept, recomputed } = await totalsOf(kettle, campaign.id);
    expect(kept).toEqual(recomputed);
    expect(stats.ledgerNet).toBe(recomputed.raised);
    expect(stats.raised).toBe(1_500_00 + recomputed.raised);
    expect(stats.campaign.startingAmount).toBe(1_500_00);
    expect(stats.gifts).toBe(recomputed.gifts);
    expect(stats.donors).toBe(recomputed.donors);
    expect(stats.percent).toBe(Math.floor((stats.raised * 100) / 10_000_00));
    expect(stats.averageGift).toBe(Math.round(recomputed.raised / recomputed.gifts));
  });

  it('one-off vs recurring, the median, new plans and refunds equal the ledger recomputed gift by gift', async () => {
    const expected = await recomputedFromLedger(campaign);
    expect(stats.oneOff).toEqual(expected.oneOff);
    expect(stats.recurring).toEqual(expected.recurring);
    expect(stats.oneOff.amount + stats.recurring.amount).toBe(stats.ledgerNet);
    expect(stats.oneOff.gifts + stats.recurring.gifts).toBe(stats.gifts);
    expect(stats.medianGift).toBe(expected.median);
    expect(stats.newPlans.monthly).toEqual(expected.monthlyPlans);
    expect(stats.newPlans.annual).toEqual(expected.annualPlans);
    expect(stats.newPlans).toMatchObject({ count: 4, monthly: { count: 2, amount: 35_00 }, annual: { count: 2, amount: 220_01 } });
    // 220.01 a year is 18.334… a month: rounded half up once, over the sum of annual plans.
    expect(stats.newPlans.monthlyValue).toBe(35_00 + 18_33);
    expect(stats.refunds).toEqual({ refunded: expected.refunded, disputesLost: expected.disputesLost, total: expected.refunded + expected.disputesLost });
    expect(stats.refunds).toEqual({ refunded: 95_00, disputesLost: 35_00, total: 130_00 });
  });

  it('money per day runs from the start to today in UTC days, its running total ending at raised', () => {
    expect(stats.series.bucket).toBe('day');
    expect(stats.series.goal).toBe(10_000_00);
    const points = stats.series.points;
    expect(points[0].at).toBe(new Date(Math.floor(campaign.startsAt.getTime() / DAY_MS) * DAY_MS).toISOString());
    expect(points.at(-1)!.at).toBe(new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS).toISOString());
    expect(points.at(-1)!.cumulative).toBe(stats.raised);
    expect(points.reduce((sum, p) => sum + p.net, 0)).toBe(stats.ledgerNet);
  });

  it('lists the latest gifts newest first, anonymous donors as Anonymous, offline gifts by their donor record', () => {
    const names = stats.latestGifts.map((g) => g.name);
    // The two gifts through Checkout may share their second (Stripe's timestamps): either may come first.
    expect(names.slice(0, 2).sort()).toEqual(['Anonymous', 'Eve Named']);
    expect(names.slice(2)).toEqual(['No name given', 'Ada', 'Cy', 'Bo', 'Cy', 'Ada', 'Ada', 'Bo', 'Cy', 'Bo', 'Ada']);
    expect(stats.latestGifts.find((g) => g.name === 'Eve Named')).toMatchObject({ amount: 40_00, net: 40_00, frequency: 'once', source: 'stripe' });
    expect(stats.latestGifts[2]).toMatchObject({ amount: 45_00, source: 'offline', frequency: null });
    expect(stats.latestGifts.at(-1)).toMatchObject({ amount: 50_00, net: 35_00 });
    const times = stats.latestGifts.map((g) => g.occurredAt);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('shows the figures server-rendered, dates stated in UTC, and the same figures in stats.json', async () => {
    const admin = await signedInAdmin(kettle, 'viewer');
    const page = await admin.get(`/admin/campaigns/${campaign.slug}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('All dates and times are in UTC');
    expect(page.text).toMatch(/data-testid="raised">\$[\d,.]+</);
    expect(page.text).toContain('Includes $1,500 pledged before the campaign opened');
    expect(page.text).toContain('aria-live="polite"');
    expect(page.text).toContain('<script src="/assets/admin-dashboard.js" defer></script>');
    expect(page.text).not.toMatch(/<script>(?!<\/script>)/);
    expect(page.text).toContain('<td>Anonymous</td>');
    expect(page.text).not.toContain('Dee Donor');

    const json = await admin.get(`/admin/campaigns/${campaign.slug}/stats.json`);
    expect(json.status).toBe(200);
    expect(json.headers['content-type']).toMatch(/application\/json/);
    const body = json.body as CampaignStats;
    expect(body).toMatchObject({
      campaign: { slug: campaign.slug, currency: 'usd', goal: 10_000_00, startingAmount: 1_500_00, startsAt: campaign.startsAt.toISOString(), endsAt: campaign.endsAt!.toISOString() },
      state: 'open', raised: stats.raised, ledgerNet: stats.ledgerNet, gifts: stats.gifts, donors: stats.donors, medianGift: stats.medianGift,
      oneOff: stats.oneOff, recurring: stats.recurring, newPlans: stats.newPlans, refunds: stats.refunds,
    });
    for (const value of [body.raised, body.averageGift, body.pace.perDayNeeded, body.pace.projectedTotal, ...body.series.points.map((p) => p.cumulative)]) {
      expect(Number.isSafeInteger(value)).toBe(true);
    }
    expect(body.series.points[0]).toEqual({ at: expect.stringMatching(/^\d{4}-\d\d-\d\dT00:00:00\.000Z$/), net: expect.any(Number), cumulative: expect.any(Number) });
    expect(body.latestGifts).toHaveLength(13);
    expect(body.computedAt).toMatch(/Z$/);
  });
});

describe('pace at the edges', () => {
  const now = new Date('2026-03-10T12:00:00Z');
  const base = { goal: 10_000_00, startsAt: new Date('2026-03-01T00:00:00Z'), now, paceWindowNet: 700_00 };

  it('spreads what remains over the days left, rounded up to a minor unit, and projects at the last 7 days\' pace', () => {
    const pace = paceOf({ ...base, raised: 4_000_00, endsAt: new Date('2026-03-20T12:00:00Z') });
    expect(pace).toEqual({
      state: 'open', daysLeft: 10, remaining: 6_000_00, perDayNeeded: 600_00, paceWindowNet: 700_00, paceWindowDays: 7,
      projectedTotal: 4_000_00 + 1_000_00,
    });
    expect(paceOf({ ...base, raised: 4_000_01, endsAt: new Date('2026-03-13T12:00:00Z') }).perDayNeeded).toBe(199_999 + 1);
  });

  it('needs nothing more per day once the goal is met', () => {
    expect(paceOf({ ...base, raised: 10_000_00, endsAt: new Date('2026-03-20T12:00:00Z') })).toMatchObject({ remaining: 0, perDayNeeded: 0 });
    expect(paceOf({ ...base, raised: 12_000_00, endsAt: new Date('2026-03-20T12:00:00Z') })).toMatchObject({ remaining: 0, perDayNeeded: 0 });
  });

  it('on the last day needs all that remains', () => {
    const pace = paceOf({ ...base, raised: 9_000_00, endsAt: new Date('2026-03-11T02:00:00Z') });
    expect(pace).toMatchObject({ state: 'open', daysLeft: 1, remaining: 1_000_00, perDayNeeded: 1_000_00 });
  });

  it('asks nothing per day of an ended campaign and projects its final total', () => {
    expect(paceOf({ ...base, raised: 3_000_00, endsAt: new Date('2026-03-10T11:59:59Z') }))
      .toMatchObject({ state: 'ended', daysLeft: 0, remaining: 7_000_00, perDayNeeded: null, projectedTotal: 3_000_00 });
  });

  it('has no days left, per-day need or projection without an end date', () => {
    expect(paceOf({ ...base, raised: 3_000_00, endsAt: null }))
      .toMatchObject({ state: 'no_end_date', daysLeft: null, perDayNeeded: null, projectedTotal: null, remaining: 7_000_00 });
  });

  it('reads the pace since the start when the campaign is younger than 7 days', () => {
    const pace = paceOf({ ...base, startsAt: new Date('2026-03-08T12:00:00Z'), raised: 200_00, paceWindowNet: 200_00, endsAt: new Date('2026-03-12T12:00:00Z') });
    expect(pace).toMatchObject({ paceWindowDays: 2, projectedTotal: 400_00, daysLeft: 2, perDayNeeded: 4_900_00 });
  });

  it('takes a twelfth of annual plans rounded half up', () => {
    expect([monthlyShareOfAnnual(0), monthlyShareOfAnnual(12_00), monthlyShareOfAnnual(6), monthlyShareOfAnnual(5), monthlyShareOfAnnual(18)]).toEqual([0, 1_00, 1, 0, 2]);
  });
});

describe('the stats function with an explicit now', () => {
  it('counts the starting amount towards the goal: met by it alone, nothing needed per day', async () => {
    const campaign = await withStartingAmount(await makeCampaign(kettle, { goalAmount: 1_000_00 }), 1_000_00);
    const stats = await campaignStats(kettle.dataSource, campaign, new Date());
    expect(stats).toMatchObject({ raised: 1_000_00, ledgerNet: 0, percent: 100, gifts: 0, averageGift: null, medianGift: null });
    expect(stats.pace).toMatchObject({ remaining: 0, perDayNeeded: 0 });
    expect(stats.series.points.at(-1)!.cumulative).toBe(1_000_00);
  });

  it('an ended campaign has no per-day need and says it ended; a late refund still ends the running total at raised', async () => {
    const campaign = await makeCampaign(kettle, { goalAmount: 1_000_00, startsAt: ago(5 * DAY_MS), endsAt: ago(2 * DAY_MS) });
    const seed = ledgerSeed(kettle);
    const gift = await seed.gift(campaign, await seed.donor('late@example.org'), 300_00, iso(3 * DAY_MS));
    await seed.adjust('refund', gift, 100_00, 'usd', iso(DAY_MS));
    const stats = await campaignStats(kettle.dataSource, campaign, new Date());
    expect(stats.state).toBe('ended');
    expect(stats.pace).toMatchObject({ state: 'ended', daysLeft: 0, perDayNeeded: null, projectedTotal: 200_00 });
    expect(stats.series.points.at(-1)!.cumulative).toBe(200_00);
    const admin = await signedInAdmin(kettle, 'admin');
    const page = await admin.get(`/admin/campaigns/${campaign.slug}`);
    expect(page.text).toContain('This campaign has ended.');
    expect(page.text).toMatch(/data-testid="per-day">—</);
  });

  it('without an end date shows no days left nor a per-day need, and says why', async () => {
    const campaign = await makeCampaign(kettle, { endsAt: null });
    const stats = await campaignStats(kettle.dataSource, campaign, new Date());
    expect(stats.pace).toMatchObject({ state: 'no_end_date', daysLeft: null, perDayNeeded: null });
    const page = await (await signedInAdmin(kettle, 'viewer')).get(`/admin/campaigns/${campaign.slug}`);
    expect(page.text).toContain('This campaign has no end date');
  });

  it('charts at most the last MAX_POINTS days of a long campaign, earlier money starting the running total', async () => {
    const campaign = await makeCampaign(kettle, { startsAt: ago(3 * 365 * DAY_MS), endsAt: null });
    const seed = ledgerSeed(kettle);
    const donor = await seed.donor('long-runner@example.org');
    await seed.gift(campaign, donor, 70_00, iso(2 * 365 * DAY_MS));
    await seed.gift(campaign, donor, 30_00, iso(DAY_MS));
    const stats = await campaignStats(kettle.dataSource, campaign, new Date());
    expect(stats.series.points).toHaveLength(MAX_POINTS);
    expect(stats.series.points[0].cumulative).toBe(70_00);
    expect(stats.series.points.at(-1)!.cumulative).toBe(100_00);
  });

  it('on the final day counts by the hour, and a one-day campaign too', async () => {
    const endsAt = new Date(Date.now() + 5 * HOUR_MS);
    const campaign = await makeCampaign(kettle, { goalAmount: 1_000_00, startsAt: ago(3 * DAY_MS), endsAt });
    const seed = ledgerSeed(kettle);
    const donor = await seed.donor('hourly@example.org');
    await seed.gift(campaign, donor, 100_00, iso(2 * DAY_MS));
    await seed.gift(campaign, donor, 50_00, iso(2 * HOUR_MS));
    const now = new Date();
    const stats = await campaignStats(kettle.dataSource, campaign, now);
    expect(stats.series.bucket).toBe('hour');
    expect(stats.series.points[0].at).toBe(new Date(Math.floor((endsAt.getTime() - DAY_MS) / HOUR_MS) * HOUR_MS).toISOString());
    expect(stats.series.points[0].cumulative).toBe(100_00);
    expect(stats.series.points.at(-1)!.cumulative).toBe(150_00);
    expect(stats.pace).toMatchObject({ daysLeft: 1, perDayNeeded: 850_00 });

    const oneDay = await makeCampaign(kettle, { startsAt: ago(2 * HOUR_MS), endsAt: new Date(Date.now() + 20 * HOUR_MS) });
    const oneDayStats = await campaignStats(kettle.dataSource, oneDay, now);
    expect(oneDayStats.series.bucket).toBe('hour');
    expect(oneDayStats.series.points[0].at).toBe(new Date(Math.floor(oneDay.startsAt.getTime() / HOUR_MS) * HOUR_MS).toISOString());
  });
});

describe('the dashboard over HTTP', () => {
  it('sends a signed-out browser to sign in', async () => {
    for (const path of ['/admin', '/admin/campaigns/anything', '/admin/campaigns/anything/stats.json']) {
      const res = await request(kettle.app).get(path);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/admin/sign-in');
    }
  });

  it('answers 404 for an unknown or malformed slug', async () => {
    const admin = await signedInAdmin(kettle, 'viewer');
    expect((await admin.get('/admin/campaigns/no-such-campaign')).status).toBe(404);
    expect((await admin.get('/admin/campaigns/no-such-campaign/stats.json')).status).toBe(404);
    expect((await admin.get('/admin/campaigns/NOT%20a%20slug')).status).toBe(404);
  });

  it('opens on the running campaign that started last', async () => {
    await makeCampaign(kettle, { startsAt: ago(2 * DAY_MS), endsAt: new Date(Date.now() + 50 * DAY_MS) });
    const latest = await makeCampaign(kettle, { startsAt: ago(HOUR_MS), endsAt: new Date(Date.now() + 40 * DAY_MS) });
    await makeCampaign(kettle, { startsAt: new Date(Date.now() + DAY_MS), endsAt: new Date(Date.now() + 60 * DAY_MS) });
    const res = await (await signedInAdmin(kettle, 'viewer')).get('/admin');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/admin/campaigns/${latest.slug}`);
  });

  it('explains its figures in plain words, the pace window in the right number', async () => {
    const admin = await signedInAdmin(kettle, 'viewer');
    const young = await makeCampaign(kettle, { startsAt: ago(3 * HOUR_MS), endsAt: new Date(Date.now() + 30 * DAY_MS) });
    const page = await admin.get(`/admin/campaigns/${young.slug}`);
    expect(page.text).toContain('at the pace of the last 3 hours (');
    expect(page.text).toMatch(/One-off <span class="small">\(net of refunds\)<\/span>/);
    expect(page.text).toMatch(/Recurring <span class="small">\(net of refunds\)<\/span>/);
    expect(page.text).toMatch(/monthly plans \(<span[^>]*>0<\/span>\) plus annual plans \(<span[^>]*>0<\/span>\) counted at a twelfth/);
    expect(page.text).not.toContain('rounded half up to a minor unit');
    const older = await makeCampaign(kettle, { startsAt: ago(20 * DAY_MS), endsAt: new Date(Date.now() + 30 * DAY_MS) });
    expect((await admin.get(`/admin/campaigns/${older.slug}`)).text).toContain('at the pace of the last 7 days (');
    expect([1, 2.5, 1 / 24, 0.001].map(paceWindowWords)).toEqual(['the last day', 'the last 2.5 days', 'the last hour', 'the last hour']);
  });

  it('serves chart.js and the dashboard script from our own origin', async () => {
    const chart = await request(kettle.app).get('/assets/vendor/chart.js/chart.umd.min.js');
    expect(chart.status).toBe(200);
    expect(chart.headers['content-type']).toMatch(/javascript/);
    expect(chart.text).toContain('Chart.js v4.6.1');
    const script = await request(kettle.app).get('/assets/admin-dashboard.js');
    expect(script.status).toBe(200);
    expect(script.text).toContain('stats');
    const page = await (await signedInAdmin(kettle, 'viewer')).get(`/admin/campaigns/${(await makeCampaign(kettle)).slug}`);
    expect(page.text).toContain('<script src="/assets/vendor/chart.js/chart.umd.min.js" defer></script>');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
  });
});

describe('the public page with a starting amount', () => {
  it('counts the starting amount in raised, on the page and in the progress JSON, as the dashboard does', async () => {
    const campaign = await withStartingAmount(await makeCampaign(kettle, { goalAmount: 1_000_00 }), 250_00);
    await donateAndPay(kettle, campaign, { amount: '50.00', email: 'pub@example.org' });
    const progress = await request(kettle.app).get(`/api/campaigns/${campaign.slug}/progress`);
    expect(progress.body).toMatchObject({ startingAmount: 250_00, raised: 300_00, percent: 30, gifts: 1 });
    const page = await request(kettle.app).get(`/campaigns/${campaign.slug}`);
    expect(page.text).toContain('$300</strong>');
    expect(page.text).toContain('Includes $250 pledged before the campaign opened.');
    const stats = await campaignStats(kettle.dataSource, campaign);
    expect(stats.raised).toBe(progress.body.raised);
  });
});
