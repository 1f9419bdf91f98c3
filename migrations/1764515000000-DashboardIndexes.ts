import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The campaign dashboard's indexes, so its figures over 1,000,000 gifts are index-only walks
 * bounded by the campaign rather than table scans (measured with EXPLAIN ANALYZE, see
 * src/admin/dashboard/campaign-stats.ts):
 * - gifts grouped by frequency, renewal and amount (one-off vs recurring, new plans, the median);
 * - every entry by its UTC time with its amount (money per day and per hour, the last 7 days' pace);
 * - a campaign's refunds, lost disputes and reversals with the gift they adjust.
 * The last two are shaped so no other query can pick them by mistake (the donor wall walks its own
 * index, a gift's refunds are found by ledger_entries_gift_idx): an expression only the dashboard
 * writes, and a predicate (kind <> 'gift') that a lookup by gift_entry_id does not imply.
 * occurred_at is included because Postgres answers from an expression index alone only when the
 * columns under the expression are in it too.
 */
export class DashboardIndexes1764515000000 implements MigrationInterface {
  name = 'DashboardIndexes1764515000000';
  // CONCURRENTLY cannot run inside a transaction; it lets gifts keep arriving while the indexes build.
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE INDEX CONCURRENTLY IF NOT EXISTS ledger_entries_campaign_gift_mix_idx
        ON ledger_entries (campaign_id, frequency, renewal, amount) WHERE kind = 'gift'`);
    await q.query(`
      CREATE INDEX CONCURRENTLY IF NOT EXISTS ledger_entries_campaign_time_amount_idx
        ON ledger_entries (campaign_id, (occurred_at AT TIME ZONE 'UTC')) INCLUDE (amount, occurred_at)`);
    await q.query(`
      CREATE INDEX CONCURRENTLY IF NOT EXISTS ledger_entries_campaign_adjustments_idx
        ON ledger_entries (campaign_id) INCLUDE (gift_entry_id, kind, amount) WHERE kind <> 'gift'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS ledger_entries_campaign_adjustments_idx`);
    await q.query(`DROP INDEX IF EXISTS ledger_entries_campaign_time_amount_idx`);
    await q.query(`DROP INDEX IF EXISTS ledger_entries_campaign_gift_mix_idx`);
  }
}
