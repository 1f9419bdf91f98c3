import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The webhook inbox becomes a queue a worker drains (retries with backoff, a reason kept for
 * ignored events), and the ledger learns to add back a refund that failed after succeeding.
 */
export class WebhookInboxWorker1764300000000 implements MigrationInterface {
  name = 'WebhookInboxWorker1764300000000';

  async up(q: QueryRunner): Promise<void> {
    // When the worker may next try a 'received' event: now for a new one, later after a failure,
    // and a short lease while a worker holds it (so a crashed worker's batch comes back by itself).
    await q.query(`ALTER TABLE stripe_events ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(), ADD COLUMN outcome_reason text`);
    await q.query(`DROP INDEX IF EXISTS stripe_events_unfinished_idx`);
    await q.query(`CREATE INDEX stripe_events_due_idx ON stripe_events (next_attempt_at) WHERE status = 'received'`);

    // refund_reversal: a refund that failed after it succeeded gives its money back, once per refund.
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
      CHECK (kind IN ('gift', 'refund', 'dispute_lost', 'refund_reversal'))`);
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_check`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_sign_check
      CHECK ((kind IN ('gift', 'refund_reversal')) = (amount > 0))`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_refund_reversal_check
      CHECK (kind <> 'refund_reversal' OR stripe_refund_id IS NOT NULL)`);
    // One refund row and at most one reversal row per Stripe refund.
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_stripe_refund_id_key`);
    await q.query(`CREATE UNIQUE INDEX ledger_entries_stripe_refund_kind_key ON ledger_entries (stripe_refund_id, kind)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM ledger_entries WHERE kind = 'refund_reversal'`);
    await q.query(`DROP INDEX ledger_entries_stripe_refund_kind_key`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_stripe_refund_id_key UNIQUE (stripe_refund_id)`);
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_refund_reversal_check`);
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_sign_check`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_check CHECK ((kind = 'gift') = (amount > 0))`);
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('gift', 'refund', 'dispute_lost'))`);
    await q.query(`DROP INDEX stripe_events_due_idx`);
    await q.query(`CREATE INDEX stripe_events_unfinished_idx ON stripe_events (received_at) WHERE status IN ('received', 'deferred')`);
    await q.query(`ALTER TABLE stripe_events DROP COLUMN outcome_reason, DROP COLUMN next_attempt_at`);
  }
}
