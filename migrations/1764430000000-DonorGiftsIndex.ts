import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A donor's gifts by date: statements (and the account page) read one donor's gifts of a year,
 * a short walk down this index instead of a scan of the whole ledger.
 */
export class DonorGiftsIndex1764430000000 implements MigrationInterface {
  name = 'DonorGiftsIndex1764430000000';
  // CONCURRENTLY cannot run inside a transaction; it lets gifts keep arriving while the index builds.
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE INDEX CONCURRENTLY IF NOT EXISTS ledger_entries_donor_gifts_idx ON ledger_entries (donor_id, occurred_at)
       WHERE kind = 'gift' AND donor_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS ledger_entries_donor_gifts_idx`);
  }
}
