import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * For the donate form's challenge (CAPTCHA): each solved challenge is accepted once, so its id is
 * kept until it expires; and security alerts, one row per kind and campaign and hour, for admins.
 */
export class DonateChallenges1764310000000 implements MigrationInterface {
  name = 'DonateChallenges1764310000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE used_challenges (
        id varchar(128) PRIMARY KEY,
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX used_challenges_expires_at ON used_challenges (expires_at)`);
    await q.query(`
      CREATE TABLE security_alerts (
        id bigserial PRIMARY KEY,
        kind varchar(64) NOT NULL,
        campaign_id uuid NOT NULL REFERENCES campaigns(id),
        window_start timestamptz NOT NULL,
        first_at timestamptz NOT NULL DEFAULT now(),
        last_at timestamptz NOT NULL DEFAULT now(),
        count integer NOT NULL DEFAULT 1 CHECK (count > 0),
        UNIQUE (kind, campaign_id, window_start)
      )`);
    await q.query(`CREATE INDEX security_alerts_last_at ON security_alerts (last_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS security_alerts`);
    await q.query(`DROP TABLE IF EXISTS used_challenges`);
  }
}
