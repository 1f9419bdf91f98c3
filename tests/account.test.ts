import 'reflect-metadata';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountLinks } from '../src/account/links';
import type { Campaign } from '../src/campaigns/campaign.entity';
import {
  accountForms, accountLinks, csrfOf, donorIdOf, giveMonthly, pathOf, pressLinkButton, signedInAgent, type MonthlyGift,
} from './helpers/account';
import { donateAndPay } from './helpers/flows';
import { appVariant, makeCampaign, startTestKettle, type TestKettle } from './helpers/kettle';
import { addressedTo } from './helpers/mailbox';

let kettle: TestKettle;
let campaign: Campaign;
let monthly: MonthlyGift;
let onceDonorId: string;

beforeAll(async () => {
  kettle = await startTestKettle({ mailbox: true });
  campaign = await makeCampaign(kettle);
  monthly = await giveMonthly(kettle, campaign, 'monthly@example.org', '10');
  await donateAndPay(kettle, campaign, { email: 'once@example.org', amount: '25', frequency: 'once' });
  onceDonorId = await donorIdOf(kettle, 'once@example.org');
});
afterAll(() => kettle?.close());

const sessionRows = async () => Number((await kettle.dataSource.query(`SELECT count(*) AS n FROM web_sessions WHERE sess::jsonb ? 'donorId'`))[0].n);
const mailsOfKind = (kind: string) => kettle.dataSource.query(`SELECT dedupe_key, donor_id, params FROM email_outbox WHERE kind = $1 ORDER BY created_at`, [kind]);
const tokensOf = (donorId: string) => kettle.dataSource.query(`SELECT id, used_at, expires_at FROM donor_sign_in_tokens WHERE donor_id = $1 ORDER BY created_at`, [donorId]);
/** A client from its own address (the app trusts X-Forwarded-For from loopback), so rate limits per IP stay apart per test. */
const fromIp = (ip: string) => {
  const agent = request.agent(kettle.app);
  return { agent, get: (path: string) => agent.get(path).set('X-Forwarded-For', ip), post: (path: string) => agent.post(path).set('X-Forwarded-For', ip).type('form') };
};
/** Asks for a sign-in link on the sign-in page, as a person does. */
async function askForLink(email: string, ip: string) {
  const client = fromIp(ip);
  const form = await client.get('/account/sign-in');
  return client.post('/account/sign-in').send({ _csrf: csrfOf(form.text), email });
}

describe('a manage link (in every receipt)', () => {
  it('opens a page with one button and signs nobody in by being opened', async () => {
    const agent = request.agent(kettle.app);
    const before = await sessionRows();
    const page = await agent.get(pathOf(accountLinks(kettle).manageUrl(monthly.donorId)));
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).toContain('Continue to my gifts');
    expect(page.text.match(/<button/g)).toHaveLength(1);
    expect(page.text).not.toContain('monthly@example.org');
    expect(await sessionRows()).toBe(before);
    const account = await agent.get('/account');
    expect(account.status).toBe(303);
    expect(account.headers.location).toBe('/account/sign-in');
  });

  it('signs in on its POST, on a new session id, and shows the donor their gifts', async () => {
    const agent = request.agent(kettle.app);
    const url = accountLinks(kettle).manageUrl(monthly.donorId);
    const page = await agent.get(pathOf(url));
    const anonymousCookie = String(page.headers['set-cookie']).split(';')[0];
    const signIn = await agent.post(pathOf(url)).type('form').send({ _csrf: csrfOf(page.text) });
    expect(signIn.status).toBe(303);
    expect(signIn.headers.location).toBe('/account');
    expect(String(signIn.headers['set-cookie']).split(';')[0]).not.toBe(anonymousCookie);

    const account = await agent.get('/account');
    expect(account.status).toBe(200);
    expect(account.headers['cache-control']).toBe('no-store');
    expect(account.text).toContain('monthly@example.org');
    expect(account.text).toContain('$10 every month');
    // The "Update card" form redirects to Stripe's billing portal: browsers hold redirects to form-action.
    expect(account.headers['content-security-policy']).toMatch(/form-action [^;]*https:\/\/billing\.stripe\.com/);
  });

  it('works again and again (mail scanners open links before people do)', async () => {
    const url = accountLinks(kettle).manageUrl(monthly.donorId);
    for (let i = 0; i < 3; i += 1) {
      const res = await pressLinkButton(request.agent(kettle.app), url);
      expect(res.status).toBe(303);
    }
  });

  it('goes on to a same-site account path given as next, and nowhere else', async () => {
    const url = accountLinks(kettle).manageUrl(monthly.donorId);
    const card = `/account/recurring/${monthly.plan.id}/card`;
    expect((await pressLinkButton(request.agent(kettle.app), `${url}?next=${encodeURIComponent(card)}`)).headers.location).toBe(card);
    for (const next of ['//evil.example/account', 'https://evil.example/account', '/accounting', '/account/../admin', '/account\\@evil.example', 'javascript:alert(1)']) {
      const res = await pressLinkButton(request.agent(kettle.app), url, { next });
      expect(res.headers.location, next).toBe('/account');
    }
  });

  it('never writes its token to the logs', async () => {
    const lines: string[] = [];
    const app = appVariant(kettle, { logger: pino({ level: 'info' }, { write: (line: string) => lines.push(line) }) });
    const url = accountLinks(kettle).manageUrl(monthly.donorId);
    const token = url.split('/').pop()!;
    const agent = request.agent(app);
    const page = await agent.get(pathOf(url));
    await agent.post(pathOf(url)).type('form').send({ _csrf: csrfOf(page.text) });
    const logged = lines.map((line) => JSON.parse(line).req?.url).filter(Boolean);
    expect(logged).toEqual(['/account/manage/…', '/account/manage/…']);
    expect(lines.join('\n')).not.toContain(token.slice(0, 36));
  });

  it.each([
    ['tampered', (url: string) => url.slice(0, -3) + (url.endsWith('AAA') ? 'BBB' : 'AAA'), 400, 'not complete or not valid'],
    ['forged with another secret', () => new AccountLinks(kettle.baseUrl, 'y'.repeat(32)).manageUrl(monthly.donorId), 400, 'not complete or not valid'],
    ['cut short', (url: string) => url.slice(0, -10), 400, 'not complete or not valid'],
    ['made up', () => `${kettle.baseUrl}/account/manage/not-a-token`, 400, 'not complete or not valid'],
    ['expired', () => accountLinks(kettle).manageUrl(monthly.donorId, new Date(Date.now() - 61 * 86_400_000)), 410, 'has expired'],
    ['for a donor who was erased', () => accountLinks(kettle).manageUrl('00000000-0000-4000-8000-000000000000'), 410, 'no longer leads to an account'],
  ])('%s: explains, offers a new link, and signs nobody in', async (_name, makeUrl, status, words) => {
    const url = makeUrl(accountLinks(kettle).manageUrl(monthly.donorId));
    const agent = request.agent(kettle.app);
    const page = await agent.get(pathOf(url));
    expect(page.status).toBe(status);
    expect(page.text).toContain(words);
    expect(page.text).toContain('Email me a sign-in link');
    expect(page.text).not.toContain('monthly@example.org');
    const post = await agent.post(pathOf(url)).type('form').send({ _csrf: csrfOf(page.text) });
    expect(post.status).toBe(status);
    expect((await agent.get('/account')).status).toBe(303);
  });
});

describe('asking for a sign-in link without a receipt at hand', () => {
  it('answers the same for a known and an unknown address, and mails a link only to a donor', async () => {
    const known = await askForLink('Monthly@Example.org', '203.0.113.1');
    const unknown = await askForLink('nobody@example.org', '203.0.113.2');
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    const words = (html: string) => html.replace(/name="_csrf" value="[^"]+"/g, '');
    expect(words(known.text)).toBe(words(unknown.text));
    expect(known.text).toContain('Check your email');

    const [token] = await tokensOf(monthly.donorId);
    expect(token.used_at).toBeNull();
    expect(token.expires_at.getTime() - Date.now()).toBeGreaterThan(29 * 60_000);
    expect(token.expires_at.getTime() - Date.now()).toBeLessThanOrEqual(30 * 60_000);
    expect(await mailsOfKind('sign_in_link')).toEqual([{ dedupe_key: `sign_in:${token.id}`, donor_id: monthly.donorId, params: { tokenId: token.id } }]);
  });

  it('refuses an address that is not one, beside the field', async () => {
    const res = await askForLink('not an email', '203.0.113.3');
    expect(res.status).toBe(400);
    expect(res.text).toContain('aria-invalid="true"');
    expect(res.text).toContain('Enter a valid email address');
    expect(res.text).toContain('value="not an email"');
  });

  it('mails a link that works once, through its button, within 30 minutes', async () => {
    await askForLink('once@example.org', '203.0.113.4');
    const mail = await kettle.mailbox!.waitFor(addressedTo('once@example.org', /sign-in link/));
    const url = mail.links.find((link) => link.startsWith(`${kettle.baseUrl}/account/sign-in/`))!;
    expect(mail.text).toContain('30 minutes');

    const first = request.agent(kettle.app);
    const page = await first.get(pathOf(url));
    expect(page.status).toBe(200);
    expect(page.text).toContain('This link works once');
    expect((await tokensOf(onceDonorId))[0].used_at).toBeNull();
    const signIn = await first.post(pathOf(url)).type('form').send({ _csrf: csrfOf(page.text) });
    expect(signIn.status, /form-error[^<]*/.exec(signIn.text)?.[0]).toBe(303);
    expect(signIn.headers.location).toBe('/account');
    expect((await first.get('/account')).text).toContain('once@example.org');

    const again = request.agent(kettle.app);
    const reused = await again.get(pathOf(url));
    expect(reused.status).toBe(410);
    expect(reused.text).toContain('already been used');
    expect(reused.text).toContain('Email me a sign-in link');
    expect((await again.post(pathOf(url)).type('form').send({ _csrf: csrfOf(reused.text) })).status).toBe(410);
    expect((await again.get('/account')).status).toBe(303);
  });

  it('signs in only one of two presses racing for the same link', async () => {
    await askForLink('once@example.org', '203.0.113.5');
    const token = (await tokensOf(onceDonorId)).at(-1);
    const url = accountLinks(kettle).signInUrl(token.id);
    const agents = [request.agent(kettle.app), request.agent(kettle.app)];
    const pages = await Promise.all(agents.map((a) => a.get(pathOf(url))));
    const presses = await Promise.all(agents.map((a, i) => a.post(pathOf(url)).type('form').send({ _csrf: csrfOf(pages[i].text) })));
    expect(presses.map((r) => r.status).sort()).toEqual([303, 410]);
  });

  it('explains an expired or forged sign-in link', async () => {
    await askForLink('once@example.org', '203.0.113.6');
    const token = (await tokensOf(onceDonorId)).at(-1);
    await kettle.dataSource.query(`UPDATE donor_sign_in_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [token.id]);
    const expired = await request(kettle.app).get(pathOf(accountLinks(kettle).signInUrl(token.id)));
    expect(expired.status).toBe(410);
    expect(expired.text).toContain('has expired');

    const forged = await request(kettle.app).get(pathOf(new AccountLinks(kettle.baseUrl, 'z'.repeat(32)).signInUrl(token.id)));
    expect(forged.status).toBe(400);
    expect(forged.text).toContain('not complete or not valid');
  });

  it('limits links per address, known or not, saying how long to wait', async () => {
    for (let i = 0; i < 5; i += 1) expect((await askForLink('limited@example.org', `198.51.100.${i + 1}`)).status).toBe(200);
    const refused = await askForLink('LIMITED@example.org', '198.51.100.99');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.text).toMatch(/try again in \d+ minutes?/);
  });

  it('limits links per network, whatever the addresses', async () => {
    for (let i = 0; i < 20; i += 1) expect((await askForLink(`someone-${i}@example.org`, '192.0.2.7')).status).toBe(200);
    const refused = await askForLink('someone-else@example.org', '192.0.2.7');
    expect(refused.status).toBe(429);
    expect(refused.text).toContain('Too many sign-in links');
  });
});

describe('whose gifts a link opens', () => {
  const buttonOf = (html: string) => /<button type="submit"[^>]*>([^<]*)<\/button>/.exec(html)![1].replace(/&#x27;/g, "'");
  /** The page's words, without tags. */
  const textOf = (html: string) => html.replace(/<[^>]+>/g, '');

  it('the manage link\'s page names the account, its email masked', async () => {
    const page = await request.agent(kettle.app).get(pathOf(accountLinks(kettle).manageUrl(monthly.donorId)));
    expect(textOf(page.text)).toContain('This link opens the gifts of m•••@example.org.');
    expect(page.text).not.toContain('monthly@example.org');
    expect(buttonOf(page.text)).toBe('Continue to my gifts');
  });

  it('the sign-in link\'s page names the account too', async () => {
    await askForLink('once@example.org', '203.0.113.7');
    const token = (await tokensOf(onceDonorId)).at(-1);
    const page = await request.agent(kettle.app).get(pathOf(accountLinks(kettle).signInUrl(token.id)));
    expect(page.status).toBe(200);
    expect(textOf(page.text)).toContain('This link opens the gifts of o•••@example.org.');
    expect(page.text).not.toContain('once@example.org');
  });

  it('with another donor signed in, says so and asks to switch; pressing switches, and only then', async () => {
    const agent = await signedInAgent(kettle, monthly.donorId);
    // Someone sends this donor a link to their own account (login CSRF by link).
    const url = accountLinks(kettle).manageUrl(onceDonorId);
    const page = await agent.get(pathOf(url));
    expect(textOf(page.text)).toContain('You are signed in as m•••@example.org in this browser.');
    expect(buttonOf(page.text)).toBe("Sign out of m•••@example.org, open o•••@example.org's gifts");
    expect((await agent.get('/account')).text).toContain('monthly@example.org');

    const switched = await agent.post(pathOf(url)).type('form').send({ _csrf: csrfOf(page.text) });
    expect(switched.status).toBe(303);
    const account = (await agent.get('/account')).text;
    expect(account).toContain('once@example.org');
    expect(account).not.toContain('monthly@example.org');
  });

  it('with the same donor signed in, just continues', async () => {
    const agent = await signedInAgent(kettle, monthly.donorId);
    const page = await agent.get(pathOf(accountLinks(kettle).manageUrl(monthly.donorId)));
    expect(page.text).not.toContain('You are signed in as');
    expect(buttonOf(page.text)).toBe('Continue to my gifts');
  });
});

describe('how long a session lasts', () => {
  const MINUTE = 60_000;
  /** The session id a response's account cookie carries, and when the cookie expires. */
  function cookieOf(res: { headers: Record<string, unknown> }) {
    const header = ([] as string[]).concat((res.headers['set-cookie'] as string[] | undefined) ?? []).find((c) => c.startsWith('kettle_account='))!;
    const value = decodeURIComponent(/^kettle_account=([^;]*)/.exec(header)![1]);
    return { sid: value.slice(2).split('.')[0], expires: new Date(/Expires=([^;]+)/i.exec(header)![1]).getTime() };
  }
  const rowExpiry = async (sid: string) => ((await kettle.dataSource.query(`SELECT expire FROM web_sessions WHERE sid = $1`, [sid]))[0].expire as Date).getTime();

  it('before signing in (only a form\'s token): 30 minutes, so anonymous visits leave rows the daily purge soon removes', async () => {
    const before = Date.now();
    const page = await request(kettle.app).get('/account/sign-in');
    const { sid, expires } = cookieOf(page);
    for (const at of [expires, await rowExpiry(sid)]) {
      expect(at - before).toBeGreaterThanOrEqual(29 * MINUTE);
      expect(at - before).toBeLessThanOrEqual(31 * MINUTE);
    }
  });

  it('signed in: 2 hours without a request, renewed by each one', async () => {
    const agent = request.agent(kettle.app);
    const before = Date.now();
    const signIn = await pressLinkButton(agent, accountLinks(kettle).manageUrl(monthly.donorId));
    const { sid, expires } = cookieOf(signIn);
    for (const at of [expires, await rowExpiry(sid)]) {
      expect(at - before).toBeGreaterThanOrEqual(119 * MINUTE);
      expect(at - before).toBeLessThanOrEqual(121 * MINUTE);
    }
    const later = cookieOf(await agent.get('/account'));
    expect(later.sid).toBe(sid);
    expect(later.expires - before).toBeGreaterThanOrEqual(119 * MINUTE);
  });
});

describe('the account pages', () => {
  it('send anyone without a session to sign in, for pages and forms alike', async () => {
    for (const path of ['/account', `/account/recurring/${monthly.plan.id}/card`]) {
      const res = await request(kettle.app).get(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.location).toBe('/account/sign-in');
    }
    const post = await request(kettle.app).post(`/account/recurring/${monthly.plan.id}/cancel`).type('form').send({ when: 'now' });
    expect(post.status).toBe(303);
    expect(post.headers.location).toBe('/account/sign-in');
  });

  it('refuse a form without the session\'s CSRF token (403), and change nothing', async () => {
    const agent = await signedInAgent(kettle, monthly.donorId);
    const { nonce } = await accountForms(agent);
    const events = kettle.emulator.events.length;
    for (const _csrf of [undefined, 'wrong', '']) {
      const res = await agent.post(`/account/recurring/${monthly.plan.id}/cancel`).type('form').send({ ...(_csrf !== undefined && { _csrf }), nonce, when: 'now' });
      expect(res.status).toBe(403);
      expect(res.text).toContain('did not come from this site');
    }
    expect((await agent.post('/account/sign-out').type('form').send({})).status).toBe(403);
    expect(kettle.emulator.events.length).toBe(events);
    expect((await kettle.stripe.subscriptions.retrieve(monthly.subscriptionId)).status).toBe('active');
  });

  it('refuse the sign-in forms without their CSRF token', async () => {
    const url = accountLinks(kettle).manageUrl(monthly.donorId);
    const fresh = request.agent(kettle.app);
    expect((await fresh.post(pathOf(url)).type('form').send({})).status).toBe(403);
    expect((await fresh.get('/account')).status).toBe(303);
    expect((await request(kettle.app).post('/account/sign-in').type('form').send({ email: 'monthly@example.org' })).status).toBe(403);
  });

  it('sign out, after which the session signs nobody in', async () => {
    const agent = await signedInAgent(kettle, monthly.donorId);
    const { _csrf } = await accountForms(agent);
    const out = await agent.post('/account/sign-out').type('form').send({ _csrf });
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/account/sign-in?signed_out=1');
    expect((await agent.get('/account')).status).toBe(303);
    expect((await agent.get('/account/sign-in?signed_out=1')).text).toContain('You have signed out.');
  });
});
