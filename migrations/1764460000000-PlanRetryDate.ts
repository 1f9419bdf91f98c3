import type { MigrationInterface, QueryRunner } from 'typeorm';

/** When Stripe will next try a past-due plan's payment (the latest failed invoice's next_payment_attempt). */
export class PlanRetryDate1764460000000 implements MigrationInterface {
  name = 'PlanRetryDate1764460000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE recurring_gifts ADD COLUMN next_payment_attempt_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE recurring_gifts DROP COLUMN IF EXISTS next_payment_attempt_at`);
  }
}
