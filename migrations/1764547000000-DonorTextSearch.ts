import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The gift list's search by any part of a donor's email or name ("lovelace", "example.net"): trigram
 * indexes on donors, so a search reads the donors that match, not every donor. pg_trgm ships with
 * PostgreSQL (the embedded server's binaries included) and is a trusted extension: the database's
 * owner may create it. Built CONCURRENTLY so a live database keeps taking gifts.
 */
export class DonorTextSearch1764547000000 implements MigrationInterface {
  name = 'DonorTextSearch1764547000000';
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS donors_email_trgm_idx ON donors USING gin (lower(email) gin_trgm_ops)`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS donors_name_trgm_idx ON donors USING gin (lower(name) gin_trgm_ops)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS donors_name_trgm_idx`);
    await q.query(`DROP INDEX IF EXISTS donors_email_trgm_idx`);
  }
}
