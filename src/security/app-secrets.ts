import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';

/**
 * A secret Kettle made for itself and keeps in the database, for when the operator set none
 * (SESSION_SECRET outside production): links in mail already sent keep working after a restart,
 * and every instance sharing the database agrees on it. The first instance to ask creates it.
 */
export async function keptSecret(dataSource: DataSource, name: string): Promise<string> {
  // Two statements, not one: under a concurrent first boot the loser's INSERT waits for the
  // winner's commit, but a SELECT in the same statement would still see the snapshot before it.
  await dataSource.query(`INSERT INTO app_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [name, randomBytes(32).toString('hex')]);
  const [row] = await dataSource.query(`SELECT value FROM app_secrets WHERE name = $1`, [name]);
  return row.value;
}
