import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { cliOn } from './helpers/cli';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

const cli = cliOn(() => db.url);

describe('npm run cli', () => {
  it('migrate brings the database up to date', async () => {
    expect(await cli('migrate')).toMatchObject({ code: 0, out: 'Database is up to date.' });
  });

  it('campaign:create makes a campaign with its goal in major units', async () => {
    const res = await cli('campaign:create', '--slug', 'eoy', '--title', 'End of year', '--goal', '50000', '--currency', 'usd', '--ends', '2026-12-31');
    expect(res).toMatchObject({ code: 0, err: '' });
    expect(res.out).toContain('Created campaign "End of year" (eoy) with a goal of $50,000');
    expect(await cli('totals:verify')).toMatchObject({ code: 0, out: expect.stringContaining('ok       eoy') });
  });

  it.each([
    [['campaign:create', '--slug', 'x', '--title', 'X', '--goal', '50,000', '--currency', 'usd'], '--goal must be a positive amount'],
    [['campaign:create', '--slug', 'x', '--title', 'X', '--goal', '100', '--currency', 'xyz'], '--currency must be one of'],
    [['campaign:create', '--slug', 'x', '--title', 'X', '--goal', '100', '--currency', 'usd', '--ends', '2026-02-30'], '--ends must be a date like 2026-12-31'],
    [['campaign:create', '--title', 'X', '--goal', '100', '--currency', 'usd'], '--slug is required.'],
    [['campaign:create', '--slug', 'Bad Slug', '--title', 'X', '--goal', '100', '--currency', 'usd'], 'use lower-case letters'],
    [['campaign:create', '--slug', 'eoy', '--title', 'X', '--goal', '100', '--currency', 'usd'], 'A campaign with slug "eoy" already exists'],
    [['campaign:create', '--bogus'], "Unknown option '--bogus'"],
    [['frobnicate'], 'Unknown command "frobnicate".'],
  ])('rejects %j with a clear message', async (argv, message) => {
    const res = await cli(...argv);
    expect(res.code).toBe(2);
    expect(res.err).toContain(message);
  });
});
