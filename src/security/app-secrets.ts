import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';

/**
 * A secret Kettle made for itself and keeps in the database, for when the operator set none
 * (SESSION_SECRET outside production): links in mail already sent keep working after a restart,
 * and every instance sharing the database agrees on it. The first instance to ask creates it.
 */
export async function keptSecret(dataSource: DataSource, name: string): Promise<string> {
  const [row] = await dataSource.query(
    `WITH created AS (
       INSERT INTO app_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value)
     SELECT value FROM created UNION ALL SELECT value FROM app_secrets WHERE name = $1 LIMIT 1`,
    [name, randomBytes(32).toString('hex')],
  );
  return row.value;
}
