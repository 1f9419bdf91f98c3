import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A donor's account page lists their gifts and plans: without these, each visit scans every
 * ledger entry and every recurring gift. Gifts by donor, newest first (their refunds are found
 * through ledger_entries_gift_idx); plans by donor.
 */
export class DonorAccountIndexes1764420000000 implements MigrationInterface {
  name = 'DonorAccountIndexes1764420000000';
  // CONCURRENTLY cannot run inside a transaction; it lets gifts keep arriving while the indexes build.
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE INDEX CONCURRENTLY IF NOT EXISTS ledger_entries_donor_idx ON ledger_entries (donor_id, occurred_at DESC)
       WHERE donor_id IS NOT NULL`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS recurring_gifts_donor_idx ON recurring_gifts (donor_id) WHERE donor_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS recurring_gifts_donor_idx`);
    await q.query(`DROP INDEX IF EXISTS ledger_entries_donor_idx`);
  }
}
