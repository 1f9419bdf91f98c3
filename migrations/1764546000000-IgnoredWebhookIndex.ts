import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The webhooks page lists the latest ignored events (charge.succeeded and the like, Checkout Sessions
 * Kettle did not create): a partial index on their arrival time, so the list reads 20 index entries
 * however many millions of events the inbox holds and however few of them were ignored. Built
 * CONCURRENTLY so webhooks keep arriving on a live database.
 */
export class IgnoredWebhookIndex1764546000000 implements MigrationInterface {
  name = 'IgnoredWebhookIndex1764546000000';
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS stripe_events_ignored_idx ON stripe_events (received_at) WHERE status = 'ignored'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS stripe_events_ignored_idx`);
  }
}
