import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Marks for the retention purge (finding 8): when an event's payload or an abandoned intent's
 * personal fields were emptied, with partial indexes so the daily purge finds the due rows
 * without scanning what it already purged.
 */
export class PersonalDataRetention1764320000000 implements MigrationInterface {
  name = 'PersonalDataRetention1764320000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE stripe_events ADD COLUMN payload_purged_at timestamptz`);
    await q.query(`
      CREATE INDEX stripe_events_purgeable_idx ON stripe_events (coalesce(processed_at, received_at))
       WHERE payload_purged_at IS NULL AND status IN ('processed', 'ignored')`);
    await q.query(`ALTER TABLE checkout_intents ADD COLUMN personal_data_purged_at timestamptz`);
    await q.query(`
      CREATE INDEX checkout_intents_purgeable_idx ON checkout_intents (created_at)
       WHERE personal_data_purged_at IS NULL AND status <> 'completed'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS checkout_intents_purgeable_idx`);
    await q.query(`ALTER TABLE checkout_intents DROP COLUMN IF EXISTS personal_data_purged_at`);
    await q.query(`DROP INDEX IF EXISTS stripe_events_purgeable_idx`);
    await q.query(`ALTER TABLE stripe_events DROP COLUMN IF EXISTS payload_purged_at`);
  }
}
