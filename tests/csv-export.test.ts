import { PassThrough } from 'node:stream';
import type { Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsvExporter, spreadsheetSafe } from '../src/admin/exports/csv-export';
import { HttpError } from '../src/web/errors';
import { createTestDatabase, type TestDatabase } from './helpers/database';

describe('spreadsheetSafe', () => {
  it.each([
    ['=HYPERLINK("https://evil.example","x")', `'=HYPERLINK("https://evil.example","x")`],
    ['+1+2', "'+1+2"],
    ['-3', "'-3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tTab', "'\tTab"],
    ['\rReturn', "'\rReturn"],
  ])('puts an apostrophe before a leading formula character: %j', (input, safe) => {
    expect(spreadsheetSafe(input)).toBe(safe);
  });

  it.each(['Ana Müller', 'a=b', 'x+1', 'name@example.org', '', "O'Brien"])('leaves other text as it is: %j', (text) => {
    expect(spreadsheetSafe(text)).toBe(text);
  });
});

/** A response as Express gives one, that takes what is written and never finishes on its own. */
function fakeResponse() {
  const stream = new PassThrough();
  const headers: Record<string, string> = {};
  return Object.assign(stream, {
    status: () => stream,
    set: (name: string | Record<string, string>, value?: string) => {
      Object.assign(headers, typeof name === 'string' ? { [name]: value } : name);
      return stream;
    },
    headers,
  }) as unknown as Response & { headers: Record<string, string> };
}

describe('CsvExporter', () => {
  let db: TestDatabase;
  beforeAll(async () => { db = await createTestDatabase(); });
  afterAll(() => db?.drop());

  it('answers 429 with Retry-After while as many exports as it allows are running (and starts nothing for it), and takes the next once one ends', async () => {
    const exporter = new CsvExporter(db.url, 1);
    const query = { filename: 'n.csv', columns: [{ header: 'n', cell: (r: { n: number }) => r.n }], sql: 'SELECT generate_series(1, 3) AS n', params: [] };
    const started: string[] = [];
    const first = fakeResponse();
    const running = exporter.send(first, query, { onStart: async () => { started.push('first'); } });

    const second = fakeResponse();
    const refused = await exporter.send(second, query, { onStart: async () => { started.push('second'); } }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(HttpError);
    expect(refused).toMatchObject({ status: 429, message: 'Other exports are running right now. Please try again in a minute.' });
    expect(second.headers['Retry-After']).toBe('30');
    // Only an export that happens is audited (onStart).
    expect(started).toEqual(['first']);

    const chunks: Buffer[] = [];
    first.on('data', (chunk: Buffer) => chunks.push(chunk));
    await running;
    expect(Buffer.concat(chunks).toString('utf8')).toBe('\uFEFFn\n1\n2\n3\n');

    const third = fakeResponse();
    (third as unknown as PassThrough).resume();
    await expect(exporter.send(third, query)).resolves.toBeUndefined();
  });
});
