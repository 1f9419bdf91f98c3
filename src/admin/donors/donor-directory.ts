import type { DataSource } from 'typeorm';
import { asUuid } from '../../donations/checkout-intent.service';

export const DONORS_PER_PAGE = 50;

export interface DonorListRow {
  id: string;
  email: string;
  name: string | null;
  createdAt: Date;
  erasedAt: Date | null;
}

/** Where the next page starts: after this donor, as matched by its email or its name. */
export interface DonorCursor {
  after: string;
  by: 'email' | 'name';
}

export interface DonorList {
  rows: DonorListRow[];
  /** Where the next page starts, or null on the last one. */
  next: DonorCursor | null;
}

const LIST_COLUMNS = `d.id, d.email, d.name, d.created_at AS "createdAt", d.erased_at AS "erasedAt"`;

/** A search as typed, trimmed and bounded; '' lists everyone, newest first. */
export const searchTerm = (value: unknown): string => (typeof value === 'string' ? value.trim().slice(0, 200) : '');

/** `text` as a LIKE pattern that matches only itself: %, _ and the escape character lose their meaning. */
export const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Finds donors by the start of their email or name, case-insensitively ("jane" finds jane@… and
 * "Jane Doe"), or by id. Prefixes, not substrings: a prefix is a range of the indexes on
 * lower(email) and lower(name) (migration 1764530000000), a substring would read every donor.
 * Results are in the order of the text that matched (byte order), each branch walking its index
 * from the cursor and stopping after a page, so a deep page costs what the first does whatever
 * the number of donors. A donor whose email and name both start with the search is listed under each.
 */
export async function searchDonors(dataSource: DataSource, q: string, cursor: { after?: unknown; by?: unknown }): Promise<DonorList> {
  const after = asUuid(cursor.after);
  const by = cursor.by === 'name' ? 'name' : 'email';
  if (q === '') return newestDonors(dataSource, after);
  const id = asUuid(q);
  if (id) return { rows: await dataSource.query(`SELECT ${LIST_COLUMNS} FROM donors d WHERE d.id = $1`, [id]), next: null };

  const rows: (DonorListRow & { by: 'email' | 'name' })[] = await dataSource.query(
    `WITH cursor AS (
       SELECT CASE WHEN $3 = 'name' THEN lower(name) ELSE lower(email) END COLLATE "C" AS key, id FROM donors WHERE id = $2),
     matched AS (
       (SELECT lower(email) COLLATE "C" AS key, id, 'email' AS by FROM donors
         WHERE lower(email) COLLATE "C" LIKE $1 AND ($2::uuid IS NULL OR (lower(email) COLLATE "C", id) > (SELECT key, id FROM cursor))
         ORDER BY lower(email) COLLATE "C", id LIMIT $4)
       UNION ALL
       (SELECT lower(name) COLLATE "C", id, 'name' FROM donors
         WHERE lower(name) COLLATE "C" LIKE $1 AND ($2::uuid IS NULL OR (lower(name) COLLATE "C", id) > (SELECT key, id FROM cursor))
         ORDER BY lower(name) COLLATE "C", id LIMIT $4))
     SELECT ${LIST_COLUMNS}, m.by FROM matched m JOIN donors d ON d.id = m.id ORDER BY m.key, m.id LIMIT $4`,
    [`${likeLiteral(q.toLowerCase())}%`, after, by, DONORS_PER_PAGE + 1],
  );
  const more = rows.length > DONORS_PER_PAGE;
  const page = rows.slice(0, DONORS_PER_PAGE);
  const last = page[page.length - 1];
  // Matched by email and by name: shown once on the page.
  const once = new Map(page.map(({ by: _by, ...row }) => [row.id, row]));
  return { rows: [...once.values()], next: more ? { after: last.id, by: last.by } : null };
}

async function newestDonors(dataSource: DataSource, after: string | null): Promise<DonorList> {
  const rows: DonorListRow[] = await dataSource.query(
    `SELECT ${LIST_COLUMNS} FROM donors d
      WHERE $1::uuid IS NULL OR (d.created_at, d.id) < (SELECT created_at, id FROM donors WHERE id = $1)
      ORDER BY d.created_at DESC, d.id DESC LIMIT $2`,
    [after, DONORS_PER_PAGE + 1],
  );
  const more = rows.length > DONORS_PER_PAGE;
  const page = rows.slice(0, DONORS_PER_PAGE);
  return { rows: page, next: more ? { after: page[page.length - 1].id, by: 'email' } : null };
}
