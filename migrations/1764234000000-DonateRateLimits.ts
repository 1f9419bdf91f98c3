import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Counters for the donate endpoint's rate limits (card-testing defence), in the database so they
 * hold across instances. Shape required by rate-limiter-flexible's Postgres store.
 */
export class DonateRateLimits1764234000000 implements MigrationInterface {
  name = 'DonateRateLimits1764234000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rate_limits (
        key varchar(255) PRIMARY KEY,
        points integer NOT NULL DEFAULT 0,
        expire bigint
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS rate_limits`);
  }
}
