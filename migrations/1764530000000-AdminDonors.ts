import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The console's donor, recurring and webhook pages (issue 7): when a donor was erased, which card
 * a plan's last failed payment was declined on (so "the card was changed since" is a comparison of
 * two ids, whatever the order the webhooks arrive in), and the indexes their lists walk. Built
 * CONCURRENTLY so gifts and webhooks keep arriving on a live database; adding nullable columns
 * rewrites nothing.
 */
export class AdminDonors1764530000000 implements MigrationInterface {
  name = 'AdminDonors1764530000000';
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE donors ADD COLUMN IF NOT EXISTS erased_at timestamptz`);
    await q.query(`ALTER TABLE recurring_gifts ADD COLUMN IF NOT EXISTS last_decline_payment_method_id text`);
    // Donor search: "starts with" on email or name, case-insensitive, in byte order (COLLATE "C", so
    // a LIKE prefix is a range of the index whatever the database's collation), walked in key order.
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS donors_email_prefix_idx ON donors ((lower(email) COLLATE "C"), id)`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS donors_name_prefix_idx ON donors ((lower(name) COLLATE "C"), id)`);
    // The donor list without a search: newest first.
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS donors_created_idx ON donors (created_at DESC, id DESC)`);
    // A donor's checkout intents (their page, export and erasure).
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS checkout_intents_donor_idx ON checkout_intents (donor_id) WHERE donor_id IS NOT NULL`);
    // Plans in trouble and plans ending: a few rows among many.
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS recurring_gifts_past_due_idx ON recurring_gifts (last_payment_failed_at) WHERE status IN ('past_due', 'unpaid')`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS recurring_gifts_ending_idx ON recurring_gifts (coalesce(cancel_at, current_period_end))
      WHERE status NOT IN ('canceled', 'incomplete_expired') AND (cancel_at_period_end OR cancel_at IS NOT NULL)`);
    // Webhook health: the latest arrival, the last day by status, and the parked events.
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS stripe_events_received_idx ON stripe_events (received_at)`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS stripe_events_failed_idx ON stripe_events (received_at) WHERE status = 'failed'`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const index of ['stripe_events_failed_idx', 'stripe_events_received_idx', 'recurring_gifts_ending_idx', 'recurring_gifts_past_due_idx',
      'checkout_intents_donor_idx', 'donors_created_idx', 'donors_name_prefix_idx', 'donors_email_prefix_idx']) {
      await q.query(`DROP INDEX IF EXISTS ${index}`);
    }
    await q.query(`ALTER TABLE recurring_gifts DROP COLUMN IF EXISTS last_decline_payment_method_id`);
    await q.query(`ALTER TABLE donors DROP COLUMN IF EXISTS erased_at`);
  }
}
