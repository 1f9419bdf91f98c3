import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Offline gifts (cheques, transfers, cash) and their voids (issue 7). An offline gift is a ledger
 * row like any other, with its own identity instead of Stripe ids: `offline_key`, from the
 * one-time key of the form that recorded it, so a form sent twice is one gift. What the ledger
 * does not need (method, reference, note, who recorded it, why it was voided) lives beside it in
 * offline_gifts; ledger rows stay immutable. A void takes back exactly what an offline gift still
 * counts for, once (the unique index in OfflineGiftIndexes1764525100000).
 */
export class OfflineGifts1764525000000 implements MigrationInterface {
  name = 'OfflineGifts1764525000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
      CHECK (kind IN ('gift', 'refund', 'dispute_lost', 'refund_reversal', 'void'))`);
    // Nullable without a default: adding it rewrites nothing, however many gifts there are.
    await q.query(`ALTER TABLE ledger_entries ADD COLUMN offline_key text`);
    // Offline rows carry no Stripe id; only an offline gift has a key; a void is offline only. (The
    // ledger also requires the key of every offline gift it records; the table does not, so offline
    // rows that predate the key, imported by hand, do not stop this migration.)
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_offline_check CHECK (
      source <> 'offline' OR (stripe_checkout_session_id IS NULL AND stripe_invoice_id IS NULL AND stripe_payment_intent_id IS NULL
        AND stripe_subscription_id IS NULL AND stripe_refund_id IS NULL AND stripe_dispute_id IS NULL))`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_offline_key_check
      CHECK (offline_key IS NULL OR (kind = 'gift' AND source = 'offline'))`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_void_check CHECK (kind <> 'void' OR source = 'offline')`);

    await q.query(`
      CREATE TABLE offline_gifts (
        entry_id uuid PRIMARY KEY REFERENCES ledger_entries(id),
        method text NOT NULL CHECK (method IN ('cheque', 'transfer', 'cash', 'other')),
        reference text CHECK (length(reference) <= 100),
        note text CHECK (length(note) <= 1000),
        received_on date NOT NULL,
        recorded_by uuid REFERENCES admin_accounts(id),
        void_reason text CHECK (length(void_reason) <= 500),
        voided_by uuid REFERENCES admin_accounts(id),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS offline_gifts`);
    await q.query(`DELETE FROM ledger_entries WHERE kind = 'void'`);
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_void_check`);
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_offline_key_check`);
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_offline_check`);
    await q.query(`ALTER TABLE ledger_entries DROP COLUMN offline_key`);
    await q.query(`ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check`);
    await q.query(`ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
      CHECK (kind IN ('gift', 'refund', 'dispute_lost', 'refund_reversal'))`);
  }
}
