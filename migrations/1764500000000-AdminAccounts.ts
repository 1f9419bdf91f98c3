import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Admin console accounts (argon2id password hashes, lockout state) and the audit log of what admins do. */
export class AdminAccounts1764500000000 implements MigrationInterface {
  name = 'AdminAccounts1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE admin_accounts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL,
        role text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
        password_hash text NOT NULL,
        failed_attempts integer NOT NULL DEFAULT 0,
        locked_until timestamptz,
        -- Sessions signed in before this are refused ("sign everyone out").
        sessions_valid_after timestamptz NOT NULL DEFAULT now(),
        created_at timestamptz NOT NULL DEFAULT now(),
        disabled_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX admin_accounts_email_key ON admin_accounts (lower(email))`);
    await q.query(`
      CREATE TABLE admin_audit_log (
        id bigserial PRIMARY KEY,
        -- NULL: done from the command line (npm run cli).
        admin_id uuid REFERENCES admin_accounts(id),
        action text NOT NULL,
        subject_type text NOT NULL,
        subject_id text,
        before jsonb,
        after jsonb,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX admin_audit_log_created_at_idx ON admin_audit_log (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS admin_audit_log`);
    await q.query(`DROP TABLE IF EXISTS admin_accounts`);
  }
}
