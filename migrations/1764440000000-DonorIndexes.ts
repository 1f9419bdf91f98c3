import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A donor's own rows, found without scanning everyone's: the account page and yearly statements
 * read a donor's ledger entries by date, the account page their plans, and statements:send
 * walks donors by year. Built CONCURRENTLY so gifts keep arriving on a live database.
 */
export class DonorIndexes1764440000000 implements MigrationInterface {
  name = 'DonorIndexes1764440000000';
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ledger_entries_donor_idx ON ledger_entries (donor_id, occurred_at) WHERE donor_id IS NOT NULL`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS recurring_gifts_donor_idx ON recurring_gifts (donor_id) WHERE donor_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS recurring_gifts_donor_idx`);
    await q.query(`DROP INDEX IF EXISTS ledger_entries_donor_idx`);
  }
}
