import 'reflect-metadata';
import request from 'supertest';
import { afterAll, beforeAll, bench, describe } from 'vitest';
import type { Campaign } from '../../src/campaigns/campaign.entity';
import { recordLedgerEntry, recomputeTotals } from '../../src/ledger/ledger.service';
import { makeCampaign, startTestKettle, type TestKettle } from '../helpers/kettle';

// What the progress endpoint costs with a campaign of many gifts: kept totals (one row) against
// recomputing from the ledger, which is what the page would cost without them.
const GIFTS = Number(process.env.BENCH_GIFTS ?? 10_000);

let kettle: TestKettle;
let campaign: Campaign;

beforeAll(async () => {
  kettle = await startTestKettle();
  campaign = await makeCampaign(kettle);
  const donors: { id: string }[] = await kettle.dataSource.query(
    `INSERT INTO donors (email) SELECT 'bench' || g || '@example.org' FROM generate_series(1, $1) g RETURNING id`, [GIFTS / 4]);
  for (let start = 0; start < GIFTS; start += 500) {
    await kettle.dataSource.transaction(async (tx) => {
      for (let i = start; i < Math.min(start + 500, GIFTS); i++) {
        await recordLedgerEntry(tx, {
          kind: 'gift', campaignId: campaign.id, donorId: donors[i % donors.length].id, amount: 500 + (i % 100) * 100,
          currency: 'usd', source: 'stripe', frequency: 'once', stripePaymentIntentId: `pi_bench_${i}`, occurredAt: new Date(),
        });
      }
    });
  }
}, 600_000);

afterAll(() => kettle?.close());

describe(`campaign progress with ${GIFTS} gifts`, () => {
  bench('GET /api/campaigns/:slug/progress (kept totals)', async () => {
    await request(kettle.app).get(`/api/campaigns/${campaign.slug}/progress`).expect(200);
  });

  bench('recompute totals from the ledger', async () => {
    await recomputeTotals(kettle.dataSource.manager, campaign.id);
  });
});
