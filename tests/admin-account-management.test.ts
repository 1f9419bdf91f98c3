import 'reflect-metadata';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfOf } from './helpers/account';
import { ADMIN_PASSWORD, signedInAdmin, type AdminBrowser } from './helpers/admin';
import { startTestKettle, type TestKettle } from './helpers/kettle';

let kettle: TestKettle;
let owner: AdminBrowser;

beforeAll(async () => {
  kettle = await startTestKettle();
  owner = await signedInAdmin(kettle, 'owner');
});
afterAll(() => kettle?.close());

const accountOf = async (email: string) => (await kettle.dataSource.query(
  `SELECT id, role, disabled_at, sessions_valid_after FROM admin_accounts WHERE lower(email) = lower($1)`, [email]))[0];
const auditOf = (id: string) => kettle.dataSource.query(
  `SELECT l.action, l.before, l.after, a.email AS by FROM admin_audit_log l LEFT JOIN admin_accounts a ON a.id = l.admin_id WHERE subject_id = $1 ORDER BY l.id`, [id]);
const fieldError = (html: string, id: string) => new RegExp(`id="${id}-error">([^<]+)<`).exec(html)?.[1]?.replace(/&#x27;/g, "'");
/** Signs in through the form from a fresh browser: 303 when the account may sign in. */
async function signInStatus(email: string): Promise<number> {
  const agent = request.agent(kettle.app);
  const form = await agent.get('/admin/sign-in').set('X-Forwarded-For', '10.99.0.1');
  const res = await agent.post('/admin/sign-in').set('X-Forwarded-For', '10.99.0.1').type('form')
    .send({ _csrf: csrfOf(form.text), email, password: ADMIN_PASSWORD });
  return res.status;
}
const formError = (html: string) => /role="alert">([^<]+)</.exec(html)?.[1];

describe('admin accounts in the console (owners)', () => {
  it('lists every account with its role, creation, and whether it is disabled or locked', async () => {
    const page = await owner.get('/admin/accounts');
    expect(page.status).toBe(200);
    expect(page.text).toContain(`${owner.email} <span class="muted small">(you)</span>`);
    expect(page.text).toMatch(/<option value="owner" selected>owner<\/option>/);
  });

  it('creates an account that can then sign in, audited without the password', async () => {
    const res = await owner.post('/admin/accounts', { email: 'New.Editor@example.org', role: 'admin', password: 'a long initial password' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/admin/accounts?done=created');
    const account = await accountOf('new.editor@example.org');
    expect(account.role).toBe('admin');
    expect(await auditOf(account.id)).toEqual([{ action: 'admin_account.create', before: null, after: { email: 'New.Editor@example.org', role: 'admin' }, by: owner.email }]);
    const [{ password_hash: hash }] = await kettle.dataSource.query(`SELECT password_hash FROM admin_accounts WHERE id = $1`, [account.id]);
    expect(hash).toMatch(/^\$argon2id\$/);
    const listed = await owner.get('/admin/accounts');
    expect(listed.text).toContain('New.Editor@example.org');
    expect(listed.text).not.toContain('a long initial password');
  });

  it.each([
    [{ email: 'not-an-email', role: 'admin', password: 'a long initial password' }, 'email', 'Enter an email address, like someone@example.org.', 400],
    [{ email: 'short@example.org', role: 'admin', password: 'elevenchars' }, 'password', 'The initial password must be at least 12 characters long.', 400],
    [{ email: 'boss@example.org', role: 'boss', password: 'a long initial password' }, 'role', 'Choose viewer, admin or owner.', 400],
  ])('refuses %j with a message beside the field and creates nothing', async (form, field, message, status) => {
    const res = await owner.post('/admin/accounts', form);
    expect(res.status).toBe(status);
    expect(fieldError(res.text, field)).toBe(message);
    expect(res.text).not.toContain(form.password);
    expect(await accountOf(form.email)).toBeUndefined();
  });

  it('refuses an email that already has an account (409)', async () => {
    const res = await owner.post('/admin/accounts', { email: owner.email.toUpperCase(), role: 'viewer', password: 'a long initial password' });
    expect(res.status).toBe(409);
    expect(fieldError(res.text, 'email')).toBe('There is already an admin account for this email address.');
  });

  it('changes a role, audited before and after; the new role applies to the open session', async () => {
    const other = await signedInAdmin(kettle, 'viewer');
    const account = await accountOf(other.email);
    expect((await other.post('/admin/campaigns', {})).status).toBe(403);
    const res = await owner.post(`/admin/accounts/${account.id}/role`, { role: 'admin' });
    expect(res.status).toBe(303);
    expect((await accountOf(other.email)).role).toBe('admin');
    expect((await auditOf(account.id)).at(-1)).toEqual({ action: 'admin_account.role', before: { role: 'viewer' }, after: { role: 'admin' }, by: owner.email });
    // Now an admin: the form is answered (400 for its empty fields), not refused.
    expect((await other.post('/admin/campaigns', {})).status).toBe(400);
  });

  it('disabling ends the account\'s sessions and sign-ins; enabling lets it sign in again', async () => {
    const other = await signedInAdmin(kettle, 'admin');
    const account = await accountOf(other.email);
    expect((await owner.post(`/admin/accounts/${account.id}/disable`)).status).toBe(303);
    expect((await other.get('/admin')).headers.location).toBe('/admin/sign-in');
    expect(await signInStatus(other.email)).toBe(401);
    const disabled = await accountOf(other.email);
    expect(disabled.disabled_at).not.toBeNull();
    expect(disabled.sessions_valid_after.getTime()).toBeGreaterThan(account.sessions_valid_after.getTime());
    expect((await owner.get('/admin/accounts')).text).toMatch(/Disabled \d{4}-\d\d-\d\d \d\d:\d\d/);

    expect((await owner.post(`/admin/accounts/${account.id}/enable`)).status).toBe(303);
    expect((await accountOf(other.email)).disabled_at).toBeNull();
    expect((await auditOf(account.id)).slice(-2).map((e: { action: string; before: unknown; after: unknown }) => [e.action, e.before, e.after])).toEqual([
      ['admin_account.disable', { disabled: false }, { disabled: true }],
      ['admin_account.enable', { disabled: true }, { disabled: false }],
    ]);
    expect(await signInStatus(other.email)).toBe(303);
  });

  it('never demotes or disables the last enabled owner', async () => {
    // Every other owner disabled first: the signed-in owner is the last one.
    const owners: { id: string }[] = await kettle.dataSource.query(`SELECT id FROM admin_accounts WHERE role = 'owner' AND disabled_at IS NULL AND lower(email) <> lower($1)`, [owner.email]);
    for (const o of owners) expect((await owner.post(`/admin/accounts/${o.id}/disable`)).status).toBe(303);
    const me = await accountOf(owner.email);
    for (const [path, form] of [[`/admin/accounts/${me.id}/role`, { role: 'admin' }], [`/admin/accounts/${me.id}/disable`, {}]] as const) {
      const res = await owner.post(path, form);
      expect(res.status).toBe(409);
      expect(formError(res.text)).toBe('This is the last enabled owner: someone must be able to manage accounts. Make another account an owner first.');
    }
    expect(await accountOf(owner.email)).toMatchObject({ role: 'owner', disabled_at: null });

    // With a second owner, the first may step down.
    const second = await signedInAdmin(kettle, 'owner');
    expect((await second.post(`/admin/accounts/${me.id}/role`, { role: 'admin' })).status).toBe(303);
    expect((await second.post(`/admin/accounts/${me.id}/role`, { role: 'owner' })).status).toBe(303);
  });

  it('only owners manage accounts (403 for admins), and unknown or malformed ids are 404', async () => {
    const admin = await signedInAdmin(kettle, 'admin');
    const me = await accountOf(admin.email);
    const refused = await admin.post(`/admin/accounts/${me.id}/role`, { role: 'owner' });
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('Only an owner can do this.');
    expect((await admin.post('/admin/accounts', { email: 'sneaky@example.org', role: 'owner', password: ADMIN_PASSWORD })).status).toBe(403);
    expect((await accountOf(admin.email)).role).toBe('admin');
    expect((await owner.post('/admin/accounts/not-a-uuid/disable')).status).toBe(404);
    expect((await owner.post('/admin/accounts/00000000-0000-4000-8000-000000000000/disable')).status).toBe(404);
  });

  it('the audit log shows before and after briefly, 50 to a page, with a link to older entries', async () => {
    await kettle.dataSource.query(
      `INSERT INTO admin_audit_log (action, subject_type, subject_id, before, after)
       SELECT 'test.filler', 'campaign', 'filler-' || n, jsonb_build_object('n', n), jsonb_build_object('story', repeat('x', 500)) FROM generate_series(1, 60) n`,
    );
    const first = await owner.get('/admin/accounts');
    const rows = (html: string) => [...html.matchAll(/<td>campaign filler-(\d+)<\/td>/g)].map((m) => Number(m[1]));
    expect(rows(first.text)).toHaveLength(50);
    expect(rows(first.text)[0]).toBe(60);
    expect(first.text).toMatch(/<code>\{&quot;n&quot;:60\}<\/code> → <code>\{&quot;story&quot;:&quot;x{100,}…<\/code>/);
    const older = /<a href="(\/admin\/accounts\?before&#x3D;\d+)#audit">Older<\/a>/.exec(first.text)![1].replace('&#x3D;', '=');
    const second = await owner.get(older);
    expect(rows(second.text)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(second.text).toContain('<a href="/admin/accounts#audit">Newest</a>');
  });
});
