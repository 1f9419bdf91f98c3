import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The console's gift pages: refunds an admin asked Stripe for (the ledger moves only when Stripe's
 * refund event arrives; until then a request counts as pending against what is still refundable),
 * and moderation of what a donor put on the public wall (hidden by an admin, or approved where the
 * campaign holds comments). Adding nullable columns rewrites nothing.
 */
export class GiftConsole1764520000000 implements MigrationInterface {
  name = 'GiftConsole1764520000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE refund_requests (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        -- The nonce of the form that asked: a second submit of the same form finds this row.
        request_key uuid NOT NULL UNIQUE,
        gift_entry_id uuid NOT NULL REFERENCES ledger_entries(id),
        amount bigint NOT NULL CHECK (amount > 0),
        currency char(3) NOT NULL,
        admin_id uuid REFERENCES admin_accounts(id),
        -- sending: about to call (or calling) Stripe; sent: Stripe made the refund; failed: Stripe refused or was unreachable.
        status text NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent', 'failed')),
        stripe_refund_id text UNIQUE,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX refund_requests_gift_idx ON refund_requests (gift_entry_id, created_at)`);
    await q.query(`ALTER TABLE checkout_intents ADD COLUMN comment_hidden_at timestamptz, ADD COLUMN comment_approved_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE checkout_intents DROP COLUMN IF EXISTS comment_approved_at, DROP COLUMN IF EXISTS comment_hidden_at`);
    await q.query(`DROP TABLE IF EXISTS refund_requests`);
  }
}
