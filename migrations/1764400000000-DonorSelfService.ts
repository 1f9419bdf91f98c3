import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Donors in control (issue 6): the mail outbox, donor sign-in tokens and web sessions, the card
 * and pause details of recurring gifts, and the one place a development secret outlives a restart.
 */
export class DonorSelfService1764400000000 implements MigrationInterface {
  name = 'DonorSelfService1764400000000';

  async up(q: QueryRunner): Promise<void> {
    // One row per mail Kettle owes someone, written in the transaction that decided it (a counted
    // gift, a failed invoice…). dedupe_key says which fact it is about ("receipt:<ledger entry>"),
    // so a replayed webhook cannot owe the same mail twice. Rendered when sent, from current data.
    await q.query(`
      CREATE TABLE email_outbox (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        dedupe_key text NOT NULL UNIQUE,
        kind text NOT NULL,
        donor_id uuid REFERENCES donors(id),
        params jsonb NOT NULL DEFAULT '{}',
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'skipped', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        locked_until timestamptz,
        last_error text,
        subject text,
        sent_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE status = 'pending'`);
    await q.query(`CREATE INDEX email_outbox_donor_idx ON email_outbox (donor_id, created_at)`);

    // Single-use sign-in links (the "email me a link" form). The link carries the id and an HMAC
    // of it; the row says whether it is still good.
    await q.query(`
      CREATE TABLE donor_sign_in_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        donor_id uuid NOT NULL REFERENCES donors(id),
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX donor_sign_in_tokens_donor_idx ON donor_sign_in_tokens (donor_id)`);

    // express-session's store (connect-pg-simple's table shape), shared by every instance.
    await q.query(`
      CREATE TABLE web_sessions (
        sid varchar NOT NULL PRIMARY KEY,
        sess json NOT NULL,
        expire timestamp(6) NOT NULL
      )`);
    await q.query(`CREATE INDEX web_sessions_expire_idx ON web_sessions (expire)`);

    await q.query(`
      ALTER TABLE recurring_gifts
        ADD COLUMN stripe_payment_method_id text,
        ADD COLUMN card_brand text,
        ADD COLUMN card_last4 text,
        ADD COLUMN card_exp_month integer,
        ADD COLUMN card_exp_year integer,
        ADD COLUMN pause_resumes_at timestamptz,
        ADD COLUMN cancel_at timestamptz,
        ADD COLUMN canceled_at timestamptz,
        ADD COLUMN last_decline_code text,
        ADD COLUMN last_decline_message text`);

    // Secrets Kettle makes for itself when the operator gave none (development): manage links
    // mailed yesterday must still open after a restart.
    await q.query(`
      CREATE TABLE app_secrets (
        name text PRIMARY KEY,
        value text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS app_secrets`);
    await q.query(`
      ALTER TABLE recurring_gifts
        DROP COLUMN IF EXISTS stripe_payment_method_id, DROP COLUMN IF EXISTS card_brand, DROP COLUMN IF EXISTS card_last4,
        DROP COLUMN IF EXISTS card_exp_month, DROP COLUMN IF EXISTS card_exp_year, DROP COLUMN IF EXISTS pause_resumes_at,
        DROP COLUMN IF EXISTS cancel_at, DROP COLUMN IF EXISTS canceled_at, DROP COLUMN IF EXISTS last_decline_code,
        DROP COLUMN IF EXISTS last_decline_message`);
    await q.query(`DROP TABLE IF EXISTS web_sessions`);
    await q.query(`DROP TABLE IF EXISTS donor_sign_in_tokens`);
    await q.query(`DROP TABLE IF EXISTS email_outbox`);
  }
}
