import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The identities of offline money, as UNIQUE indexes the ledger's inserts conflict on: one gift
 * per form key (a form sent twice records once), and at most one void per gift. Partial, so they
 * hold only offline rows; built CONCURRENTLY so gifts keep arriving on a live database.
 */
export class OfflineGiftIndexes1764525100000 implements MigrationInterface {
  name = 'OfflineGiftIndexes1764525100000';
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ledger_entries_offline_key ON ledger_entries (offline_key) WHERE offline_key IS NOT NULL`);
    await q.query(`CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ledger_entries_one_void_per_gift ON ledger_entries (gift_entry_id) WHERE kind = 'void'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS ledger_entries_one_void_per_gift`);
    await q.query(`DROP INDEX IF EXISTS ledger_entries_offline_key`);
  }
}
