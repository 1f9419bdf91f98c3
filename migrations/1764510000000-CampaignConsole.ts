import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the admin console edits on a campaign beyond its first shape: money pledged before it
 * opened (shown with the ledger's total, never written into the ledger), a hero image, and
 * whether donors' comments wait for approval before they show.
 */
export class CampaignConsole1764510000000 implements MigrationInterface {
  name = 'CampaignConsole1764510000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE campaigns
        ADD COLUMN starting_amount bigint NOT NULL DEFAULT 0 CHECK (starting_amount >= 0),
        ADD COLUMN hero_image_url text,
        ADD COLUMN hold_comments boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE campaigns DROP COLUMN hold_comments, DROP COLUMN hero_image_url, DROP COLUMN starting_amount`);
  }
}
