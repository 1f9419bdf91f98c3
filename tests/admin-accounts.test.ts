import 'reflect-metadata';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfOf } from './helpers/account';
import { appVariant, startTestKettle, type TestKettle } from './helpers/kettle';
import { cliOn } from './helpers/cli';

const PASSWORD = 'correct horse battery';
const logLines: string[] = [];
let kettle: TestKettle;

beforeAll(async () => {
  kettle = await startTestKettle({ logStream: { write: (line) => logLines.push(line) } });
});
afterAll(() => kettle?.close());

const cli = cliOn(() => kettle.dbUrl);

let accountCounter = 0;
/** A new admin account made the way an operator makes one, from the command line. */
async function createAdmin(role: 'owner' | 'admin' | 'viewer'): Promise<string> {
  accountCounter += 1;
  const email = `${role}${accountCounter}@example.org`;
  const res = await cli('admin:create', '--email', email, '--role', role, '--password', PASSWORD);
  if (res.code !== 0) throw new Error(`admin:create failed: ${res.err}`);
  return email;
}

/** A browser from its own address (the app trusts X-Forwarded-For from loopback), so per-IP limits stay apart per test. */
function browser(ip: string) {
  const agent = request.agent(kettle.app);
  return {
    get: (path: string) => agent.get(path).set('X-Forwarded-For', ip),
    post: (path: string) => agent.post(path).set('X-Forwarded-For', ip).type('form'),
  };
}
type Browser = ReturnType<typeof browser>;

async function signIn(client: Browser, email: string, password: string) {
  const form = await client.get('/admin/sign-in');
  return client.post('/admin/sign-in').send({ _csrf: csrfOf(form.text), email, password });
}

async function signedIn(email: string, ip: string): Promise<Browser> {
  const client = browser(ip);
  const res = await signIn(client, email, PASSWORD);
  if (res.status !== 303) throw new Error(`sign-in answered ${res.status}: ${res.text.slice(0, 300)}`);
  return client;
}

/** Posts one of the /admin page's forms with the page's CSRF token. */
async function postFromAdminPage(client: Browser, path: string) {
  const page = await client.get('/admin');
  return client.post(path).send({ _csrf: csrfOf(page.text) });
}

describe('npm run cli -- admin:create', () => {
  it('creates an account with an argon2id hash, and says so in the audit log', async () => {
    const res = await cli('admin:create', '--email', 'First.Owner@example.org', '--role', 'owner', '--password', PASSWORD);
    expect(res).toMatchObject({ code: 0, err: '' });
    expect(res.out).toContain('Created owner account First.Owner@example.org');
    expect(res.out).not.toContain(PASSWORD);
    const [row] = await kettle.dataSource.query(`SELECT id, role, password_hash FROM admin_accounts WHERE email = 'First.Owner@example.org'`);
    expect(row.role).toBe('owner');
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(row.password_hash).not.toContain(PASSWORD);
    const audit = await kettle.dataSource.query(`SELECT admin_id, action, subject_id, after FROM admin_audit_log WHERE subject_id = $1`, [row.id]);
    expect(audit).toEqual([{ admin_id: null, action: 'admin_account.create', subject_id: row.id, after: { email: 'First.Owner@example.org', role: 'owner' } }]);
  });

  it.each([
    [['--email', 'short@example.org', '--role', 'admin', '--password', 'elevenchars'], 'The password must be at least 12 characters long'],
    [['--email', 'role@example.org', '--role', 'boss', '--password', PASSWORD], '--role must be one of viewer, admin, owner'],
    [['--email', 'not-an-email', '--role', 'admin', '--password', PASSWORD], '--email must be an email address'],
    [['--role', 'admin', '--password', PASSWORD], '--email is required.'],
    [['--email', 'first.owner@EXAMPLE.org', '--role', 'admin', '--password', PASSWORD], 'An admin account for first.owner@EXAMPLE.org already exists.'],
    [['--email', 'noterminal@example.org', '--role', 'admin'], '--password is required when not run on a terminal'],
  ])('refuses %j with exit code 2 and a clear message', async (args, message) => {
    const res = await cli('admin:create', ...args);
    expect(res.code).toBe(2);
    expect(res.err).toContain(message);
    expect(Number((await kettle.dataSource.query(`SELECT count(*) AS n FROM admin_accounts WHERE email = $1`, [args[1]]))[0].n)).toBe(0);
  });

  it('asks for the password twice when none is given, and refuses two that differ', async () => {
    const asked: string[] = [];
    const answers = [PASSWORD, `${PASSWORD}!`, PASSWORD, PASSWORD];
    const prompted = cliOn(() => kettle.dbUrl, { promptHidden: async (q) => { asked.push(q); return answers.shift()!; } });
    const differ = await prompted('admin:create', '--email', 'prompted@example.org', '--role', 'viewer');
    expect(differ).toMatchObject({ code: 2, err: expect.stringContaining('The two passwords differ. Nothing was created.') });
    expect(asked).toEqual(['Password: ', 'Same password again: ']);
    expect(await prompted('admin:create', '--email', 'prompted@example.org', '--role', 'viewer')).toMatchObject({ code: 0 });
  });
});

describe('signing in to /admin', () => {
  it('without a session, /admin sends you to the sign-in page', async () => {
    const res = await browser('10.1.0.1').get('/admin');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/admin/sign-in');
  });

  it('signs in with email and password (303 to /admin, a new session id) and the page names the account', async () => {
    const email = await createAdmin('admin');
    const client = browser('10.1.0.2');
    const form = await client.get('/admin/sign-in');
    expect(form.headers['cache-control']).toBe('no-store');
    const before = String(form.headers['set-cookie']).split(';')[0];
    expect(before).toMatch(/^kettle_admin=/);
    const res = await client.post('/admin/sign-in').send({ _csrf: csrfOf(form.text), email: email.toUpperCase(), password: PASSWORD });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/admin');
    const cookie = String(res.headers['set-cookie']);
    expect(cookie.split(';')[0]).not.toBe(before);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);

    const page = await client.get('/admin/accounts');
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).toContain(`Signed in as <strong>${email}</strong> (admin)`);
    // Only owners see the audit log and the sign-everyone-out form.
    expect(page.text).not.toContain('Audit log');
    expect(page.text).not.toContain('/admin/sessions/revoke-all');
  });

  it('marks the session cookie Secure when BASE_URL is https', async () => {
    const https = appVariant(kettle, { config: { baseUrl: 'https://give.example.org' } });
    const res = await request(https).get('/admin/sign-in').set('X-Forwarded-Proto', 'https');
    expect(String(res.headers['set-cookie'])).toMatch(/^kettle_admin=.*; Secure/);
  });

  it('says the same for a wrong password and an unknown email', async () => {
    const email = await createAdmin('admin');
    const wrongPassword = await signIn(browser('10.1.0.3'), email, 'not the password at all');
    const unknownEmail = await signIn(browser('10.1.0.3'), 'nobody@example.org', PASSWORD);
    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(401);
    const message = (html: string) => /role="alert">([^<]+)</.exec(html)?.[1];
    expect(message(wrongPassword.text)).toBe('That email and password do not match an admin account.');
    expect(message(unknownEmail.text)).toBe(message(wrongPassword.text));
  });

  it('locks an account for 15 minutes after 5 failures, even with the right password, and says when to try again', async () => {
    const email = await createAdmin('admin');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await signIn(browser(`10.2.0.${i}`), email, 'wrong password here')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
    const locked = await signIn(browser('10.2.1.1'), email, PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.text).toContain('Too many failed sign-ins. Please try again in 15 minutes.');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(14 * 60);
    const [row] = await kettle.dataSource.query(`SELECT failed_attempts, locked_until > now() AS locked FROM admin_accounts WHERE email = $1`, [email]);
    expect(row).toEqual({ failed_attempts: 5, locked: true });
  });

  it('locks an unknown email the same way (a lockout tells nothing about who has an account)', async () => {
    let last;
    for (let i = 0; i < 5; i += 1) last = await signIn(browser(`10.3.0.${i}`), 'ghost@example.org', 'wrong password here');
    expect(last!.status).toBe(429);
    expect(last!.text).toContain('Please try again in 15 minutes.');
  });

  it('limits one network across accounts', async () => {
    const email = await createAdmin('admin');
    const client = browser('10.4.0.1');
    let res;
    for (let i = 0; i < 20; i += 1) res = await signIn(client, `probe${i}@example.org`, 'wrong password here');
    expect(res!.status).toBe(429);
    expect((await signIn(client, email, PASSWORD)).status).toBe(429);
    expect((await signIn(browser('10.5.0.1'), email, PASSWORD)).status).toBe(303);
  });

  it('refuses a sign-in without the CSRF token (403)', async () => {
    const email = await createAdmin('admin');
    const client = browser('10.6.0.1');
    await client.get('/admin/sign-in');
    const res = await client.post('/admin/sign-in').send({ email, password: PASSWORD });
    expect(res.status).toBe(403);
    expect(res.text).toContain('This form has expired or did not come from this site.');
    const wrong = await client.post('/admin/sign-in').send({ _csrf: 'not-the-token', email, password: PASSWORD });
    expect(wrong.status).toBe(403);
  });

  it('never logs a password', () => {
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(PASSWORD);
    expect(logLines.join('\n')).not.toContain('wrong password here');
  });
});

describe('roles, sign-out and signing everyone out', () => {
  it('a signed-in POST without the CSRF token is refused (403)', async () => {
    const client = await signedIn(await createAdmin('owner'), '10.7.0.1');
    expect((await client.post('/admin/sign-out').send({})).status).toBe(403);
    expect((await client.get('/admin')).status).toBe(200);
  });

  it("a viewer's POST is refused with a page saying why (403)", async () => {
    const client = await signedIn(await createAdmin('viewer'), '10.7.0.2');
    const res = await postFromAdminPage(client, '/admin/sessions/revoke-all');
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('Your account can see the admin console but not change anything.');
  });

  it('an admin (not an owner) may not sign everyone out', async () => {
    const client = await signedIn(await createAdmin('admin'), '10.7.0.3');
    const res = await postFromAdminPage(client, '/admin/sessions/revoke-all');
    expect(res.status).toBe(403);
    expect(res.text).toContain('Only an owner can do this.');
  });

  it('sign-out ends the session', async () => {
    const client = await signedIn(await createAdmin('viewer'), '10.7.0.4');
    const res = await postFromAdminPage(client, '/admin/sign-out');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/admin/sign-in?signed_out=1');
    const after = await client.get('/admin');
    expect(after.status).toBe(303);
    expect(after.headers.location).toBe('/admin/sign-in');
  });

  it("an owner signs every other session out, keeps their own, and it shows in the owner's audit log", async () => {
    const ownerEmail = await createAdmin('owner');
    const owner = await signedIn(ownerEmail, '10.8.0.1');
    const ownerElsewhere = await signedIn(ownerEmail, '10.8.0.2');
    const other = await signedIn(await createAdmin('admin'), '10.8.0.3');

    const res = await postFromAdminPage(owner, '/admin/sessions/revoke-all');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/admin/accounts?revoked=1');

    expect((await other.get('/admin')).headers.location).toBe('/admin/sign-in');
    expect((await ownerElsewhere.get('/admin')).headers.location).toBe('/admin/sign-in');
    const page = await owner.get('/admin/accounts?revoked=1');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Everyone else has been signed out.');
    expect(page.text).toContain('Audit log');
    expect(page.text).toMatch(new RegExp(`<td>${ownerEmail}</td><td>admin_sessions.revoke_all</td>`));
    expect(page.text).toContain('<td>command line</td><td>admin_account.create</td>');
  });
});

describe('pages that do not exist', () => {
  it('answer a signed-in admin with a 404 inside the console, and anyone else with the sign-in page', async () => {
    const client = await signedIn(await createAdmin('viewer'), '10.9.0.1');
    for (const path of ['/admin/no-such-page', '/admin/gifts/00000000-0000-4000-8000-000000000000', '/admin/campaigns/no-such-campaign']) {
      const res = await client.get(path);
      expect(res.status, path).toBe(404);
      expect(res.text).toContain('class="admin-nav"');
      expect(res.text).toContain('<a href="/admin">Back to the dashboard</a>');
    }
    const stranger = await browser('10.9.0.2').get('/admin/no-such-page');
    expect(stranger.status).toBe(303);
    expect(stranger.headers.location).toBe('/admin/sign-in');
  });
});
