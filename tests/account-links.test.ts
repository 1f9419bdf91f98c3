import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountLinks, MANAGE_LINK_DAYS } from '../src/account/links';
import { createDataSource, runMigrations } from '../src/db/data-source';
import { keptSecret } from '../src/security/app-secrets';
import { createTestDatabase, type TestDatabase } from './helpers/database';

const DONOR = '6f0c6d0e-3a51-4d0b-9a53-0a7a4e1f2b11';
const links = new AccountLinks('https://give.example.org', 's'.repeat(32));
const tokenOf = (url: string) => url.split('/').pop()!;

describe('manage links in receipts', () => {
  it('lead to the donor they were made for, as often as they are opened, for 60 days', () => {
    const made = new Date('2026-11-27T12:00:00Z');
    const url = links.manageUrl(DONOR, made);
    expect(url.startsWith('https://give.example.org/account/manage/')).toBe(true);
    const token = tokenOf(url);
    expect(links.checkManageToken(token, made)).toEqual({ ok: true, value: { donorId: DONOR } });
    expect(links.checkManageToken(token, made)).toEqual({ ok: true, value: { donorId: DONOR } });
    const lastDay = new Date(made.getTime() + (MANAGE_LINK_DAYS * 86_400 - 1) * 1000);
    expect(links.checkManageToken(token, lastDay).ok).toBe(true);
    const after = new Date(made.getTime() + (MANAGE_LINK_DAYS * 86_400 + 1) * 1000);
    expect(links.checkManageToken(token, after)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuse a token whose donor, expiry or signature was changed, or another secret signed', () => {
    const token = tokenOf(links.manageUrl(DONOR));
    const [donor, expires, signature] = token.split('.');
    const otherDonor = DONOR.replace('6f0c', '7f0c');
    expect(links.checkManageToken(`${otherDonor}.${expires}.${signature}`)).toEqual({ ok: false, reason: 'forged' });
    expect(links.checkManageToken(`${donor}.${(parseInt(expires, 36) + 86_400).toString(36)}.${signature}`)).toEqual({ ok: false, reason: 'forged' });
    const flipped = signature.slice(0, -1) + (signature.endsWith('A') ? 'B' : 'A');
    expect(links.checkManageToken(`${donor}.${expires}.${flipped}`)).toEqual({ ok: false, reason: 'forged' });
    const elsewhere = new AccountLinks('https://give.example.org', 't'.repeat(32));
    expect(elsewhere.checkManageToken(token)).toEqual({ ok: false, reason: 'forged' });
  });

  it.each(['', 'x', '../../etc/passwd', `${DONOR}.zz`, `${DONOR}.1.${'a'.repeat(44)}`, '%00'])('call %j malformed', (token) => {
    expect(links.checkManageToken(token)).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('sign-in links', () => {
  it('name their token row, signed, and are not manage links', () => {
    const tokenId = 'c7a3b9a2-1a2b-4c3d-8e9f-001122334455';
    const token = tokenOf(links.signInUrl(tokenId));
    expect(links.checkSignInToken(token)).toEqual({ ok: true, value: { tokenId } });
    expect(links.checkManageToken(token).ok).toBe(false);
    expect(links.checkSignInToken(token.replace('c7a3', 'd7a3'))).toEqual({ ok: false, reason: 'forged' });
    expect(links.checkSignInToken(tokenOf(links.manageUrl(DONOR))).ok).toBe(false);
  });
});

describe('the secret Kettle keeps when SESSION_SECRET is unset', () => {
  let db: TestDatabase;
  beforeAll(async () => { db = await createTestDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('is made once and is the same for every instance and after a restart', async () => {
    const first = createDataSource(db.url, 2);
    await first.initialize();
    await runMigrations(first);
    const second = createDataSource(db.url, 2);
    await second.initialize();
    const [a, b] = await Promise.all([keptSecret(first, 'session-secret'), keptSecret(second, 'session-secret')]);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(b).toBe(a);
    await first.destroy();
    expect(await keptSecret(second, 'session-secret')).toBe(a);
    await second.destroy();
  });
});
