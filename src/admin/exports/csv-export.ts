import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { Response } from 'express';
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import { minorToMajorString } from '../../money';
import { HttpError } from '../../web/errors';

/** One column of an export: its header and how a row's cell is written. */
export interface CsvColumn<Row> {
  header: string;
  /**
   * The cell. `text` cells may hold what a donor typed and are made spreadsheet-safe; numbers and
   * dates Kettle formats itself (a refund's "-12.50" must stay a number).
   */
  cell: (row: Row) => string | number | null;
  text?: boolean;
}

export interface CsvQuery<Row> {
  filename: string;
  columns: CsvColumn<Row>[];
  sql: string;
  params: unknown[];
}

export interface CsvSendOptions {
  /** Runs once the export has its slot, before any row goes out (the audit row: only for exports that happen). */
  onStart?: () => Promise<void>;
}

/** An amount in minor units (a number, or bigint text from Postgres) as a CSV cell: major units, zeros kept ("12.50"). */
export const csvMoney = (minor: string | number, currency: string) => minorToMajorString(Number(minor), currency.trim(), true);

/** A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;

/** Text a spreadsheet shows as text: a leading formula character is preceded by an apostrophe. */
export function spreadsheetSafe(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

// Each export holds a database connection for as long as the download runs.
const EXPORT_STATEMENT_TIMEOUT_MS = 10 * 60 * 1000;
const ROWS_PER_FETCH = 1000;

/**
 * Streams query results as CSV in constant memory: rows come from a server-side cursor as fast as
 * the client reads them (backpressure all the way to Postgres). An export runs on a connection of
 * its own, outside the request pool and its short statement timeout, and only a few run at once.
 */
export class CsvExporter {
  private running = 0;

  constructor(private readonly connectionString: string, private readonly maxConcurrent = 2) {}

  async send<Row>(res: Response, query: CsvQuery<Row>, options: CsvSendOptions = {}): Promise<void> {
    if (this.running >= this.maxConcurrent) {
      res.set('Retry-After', '30');
      throw new HttpError(429, 'Other exports are running right now. Please try again in a minute.');
    }
    this.running += 1;
    const client = new pg.Client({ connectionString: this.connectionString, statement_timeout: EXPORT_STATEMENT_TIMEOUT_MS, keepAlive: true });
    try {
      await options.onStart?.();
      await client.connect();
      const rows = client.query(new QueryStream(query.sql, query.params, { batchSize: ROWS_PER_FETCH, highWaterMark: ROWS_PER_FETCH }));
      const toRecord = new Transform({
        objectMode: true,
        transform(row: Row, _encoding, done) {
          done(null, query.columns.map((column) => {
            const value = column.cell(row);
            return column.text && typeof value === 'string' ? spreadsheetSafe(value) : value;
          }));
        },
      });
      res.status(200).set({
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="${query.filename}"`,
      });
      // The byte order mark tells Excel the file is UTF-8 (names with accents stay whole).
      await pipeline(rows, toRecord, stringify({ header: true, columns: query.columns.map((c) => c.header), bom: true }), res);
    } catch (err) {
      // The admin closed the download: nothing went wrong on our side.
      if ((err as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE' && res.destroyed) return;
      throw err;
    } finally {
      this.running -= 1;
      await client.end().catch(() => undefined);
    }
  }
}
