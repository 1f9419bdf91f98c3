import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Who holds a claimed mail: each claim of the outbox writes a fresh token beside its lease, and
 * the worker must still hold that token to renew the lease before sending and to settle the row.
 * A worker whose lease ran out (a slow SMTP server) can then no longer send or settle a mail that
 * another worker has claimed since. Adding a nullable column rewrites nothing.
 */
export class MailClaimTokens1764450000000 implements MigrationInterface {
  name = 'MailClaimTokens1764450000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE email_outbox ADD COLUMN claim_token uuid`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE email_outbox DROP COLUMN IF EXISTS claim_token`);
  }
}
