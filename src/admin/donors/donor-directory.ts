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

export interface DonorList {
  rows: DonorListRow[];
  /** The id to pass as `after` for the next page, or null on the last one. */
  nextAfter: string | null;
}

const LIST_COLUMNS = `id, email, name, created_at AS "createdAt", erased_at AS "erasedAt"`;

/** A search as typed, trimmed and bounded; '' lists everyone, newest first. */
export const searchTerm = (value: unknown): string => (typeof value === 'string' ? value.trim().slice(0, 200) : '');

/** `text` as a LIKE pattern that matches only itself: %, _ and the escape character lose their meaning. */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Finds donors by the start of their email or name, case-insensitively ("jane" finds jane@… and
 * "Jane Doe"), or by id. Prefixes, not substrings: a prefix is a range of the text_pattern_ops
 * indexes on lower(email) and lower(name) (migration 1764530000000), a substring would read every
 * donor. Pages are keyset pages (`after` = the last donor shown), so a deep page costs what the first does.
 */
export async function searchDonors(dataSource: DataSource, q: string, afterParam: unknown): Promise<DonorList> {
  const after = asUuid(afterParam);
  let rows: DonorListRow[];
  if (q === '') {
    rows = await dataSource.query(
      `SELECT ${LIST_COLUMNS} FROM donors
        WHERE $1::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM donors WHERE id = $1)
        ORDER BY created_at DESC, id DESC LIMIT $2`,
      [after, DONORS_PER_PAGE + 1],
    );
  } else {
    rows = await dataSource.query(
      `SELECT ${LIST_COLUMNS} FROM donors
        WHERE (lower(email) LIKE $1 OR lower(name) LIKE $1 OR id = $2::uuid)
          AND ($3::uuid IS NULL OR (lower(email), id) > (SELECT lower(email), id FROM donors WHERE id = $3))
        ORDER BY lower(email), id LIMIT $4`,
      [`${likeLiteral(q.toLowerCase())}%`, asUuid(q), after, DONORS_PER_PAGE + 1],
    );
  }
  const more = rows.length > DONORS_PER_PAGE;
  const page = rows.slice(0, DONORS_PER_PAGE);
  return { rows: page, nextAfter: more ? page[page.length - 1].id : null };
}
