import 'reflect-metadata';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedInAdmin, type AdminBrowser } from './helpers/admin';
import { donateAndPay } from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';

let kettle: TestKettle;
let admin: AdminBrowser;

beforeAll(async () => {
  kettle = await startTestKettle();
  admin = await signedInAdmin(kettle, 'admin');
});
afterAll(() => kettle?.close());

let formCounter = 0;
/** A complete, valid campaign form as the console posts it. */
function campaignForm(overrides: Record<string, string> = {}): Record<string, string> {
  formCounter += 1;
  return {
    title: 'Spring appeal', slug: `spring-${formCounter}`, story: 'We **need** you.', hero_image_url: '',
    goal: '20000', starting_amount: '1500.50', currency: 'eur', starts_at: '2026-01-01', ends_at: '2026-06-30',
    presets: '10, 25, 100', default_frequency: 'monthly', active: 'yes', hold_comments: 'yes', ...overrides,
  };
}

const fieldError = (html: string, id: string) => new RegExp(`id="${id}-error">([^<]+)<`).exec(html)?.[1]?.replace(/&quot;/g, '"').replace(/&#x27;/g, "'");
const campaignRow = async (slug: string) => (await kettle.dataSource.query(`SELECT * FROM campaigns WHERE slug = $1`, [slug]))[0];

describe('creating a campaign in the console', () => {
  it('stores every field in minor units and UTC days, and audits the creation', async () => {
    const form = campaignForm();
    const res = await admin.post('/admin/campaigns', form);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/admin/campaigns?saved=${form.slug}`);
    const row = await campaignRow(form.slug);
    expect(row).toMatchObject({
      title: 'Spring appeal', story_markdown: 'We **need** you.', hero_image_url: null, goal_amount: '2000000', starting_amount: '150050',
      currency: 'eur', preset_amounts: ['1000', '2500', '10000'], default_frequency: 'monthly', active: true, hold_comments: true,
    });
    expect(row.starts_at.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(row.ends_at.toISOString()).toBe('2026-06-30T23:59:59.000Z');
    // Its kept totals start at zero, like a campaign made by the CLI.
    expect(await totalsOf(kettle, row.id)).toEqual({ kept: { raised: 0, gifts: 0, donors: 0 }, recomputed: { raised: 0, gifts: 0, donors: 0 } });
    const [entry] = await kettle.dataSource.query(`SELECT action, after, a.email FROM admin_audit_log l JOIN admin_accounts a ON a.id = l.admin_id WHERE subject_id = $1`, [row.id]);
    expect(entry).toMatchObject({ action: 'campaign.create', email: admin.email, after: { slug: form.slug, goalAmount: 2000000, currency: 'eur' } });

    const list = await admin.get('/admin/campaigns');
    expect(list.text).toContain(`<a href="/admin/campaigns/${form.slug}">Spring appeal</a>`);
    expect(list.text).toContain(`<a href="/admin/campaigns/${form.slug}/edit">`);
    expect(list.text).toContain('€20,000');
  });

  it('the new form is its own page, not a campaign called "new"', async () => {
    const res = await admin.get('/admin/campaigns/new');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<h1>New campaign</h1>');
  });

  it.each([
    [{ slug: 'Bad Slug' }, 'slug', 'Use lower-case letters, digits and single hyphens, like end-of-year.'],
    [{ title: '' }, 'title', 'The title is required.'],
    [{ goal: '0' }, 'goal', 'The goal must be above zero.'],
    [{ goal: '1,000' }, 'goal', 'Enter the amount in major units as a plain number, like 50000 or 1250.50 (no currency signs or commas).'],
    [{ starting_amount: '-5' }, 'starting', 'Enter the amount in major units as a plain number, like 50000 or 1250.50 (no currency signs or commas).'],
    [{ currency: 'xyz' }, 'currency', 'Choose one of the listed currencies.'],
    [{ presets: '' }, 'presets', 'Enter 1 to 6 amounts separated by commas, like 10, 25, 50.'],
    [{ presets: '1, 2, 3, 4, 5, 6, 7' }, 'presets', 'Enter 1 to 6 amounts separated by commas, like 10, 25, 50.'],
    [{ presets: '10, 0.50' }, 'presets', '"0.50": The smallest gift we can accept is €1.'],
    [{ presets: '10, 1000000' }, 'presets', '"1000000": The largest gift we can take online is €999,999.99. Please contact us for larger gifts.'],
    [{ ends_at: '2025-12-31' }, 'ends', 'The end date must be after the start.'],
    [{ ends_at: '2026-02-30' }, 'ends', 'Enter a date like 2026-12-31.'],
    [{ starts_at: '' }, 'starts', 'Enter the day the campaign opens, like 2026-11-01.'],
    [{ starts_at: '1026-11-01' }, 'starts', 'Enter a date between 2000 and 2100.'],
    [{ hero_image_url: 'javascript:alert(1)' }, 'hero', 'The hero image must be an https:// address or a path on this site starting with /.'],
    [{ hero_image_url: 'http://example.org/a.jpg' }, 'hero', 'The hero image must be an https:// address or a path on this site starting with /.'],
    [{ hero_image_url: '//evil.example/a.jpg' }, 'hero', 'The hero image must be an https:// address or a path on this site starting with /.'],
    [{ default_frequency: 'weekly' }, 'frequency', 'Choose once, monthly or annual.'],
  ])('refuses %j with a message beside the field (400), keeps the values and stores nothing', async (overrides, field, message) => {
    const form = campaignForm(overrides);
    const res = await admin.post('/admin/campaigns', form);
    expect(res.status).toBe(400);
    expect(fieldError(res.text, field)).toBe(message);
    expect(res.text).toContain('Nothing was saved.');
    expect(res.text).toContain(`value="${form.presets}"`);
    expect(await campaignRow(form.slug)).toBeUndefined();
  });

  it('refuses a slug another campaign has (409), beside the slug', async () => {
    const existing = await makeCampaign(kettle);
    const res = await admin.post('/admin/campaigns', campaignForm({ slug: existing.slug, title: 'Copycat' }));
    expect(res.status).toBe(409);
    expect(fieldError(res.text, 'slug')).toBe('Another campaign already has this slug. Choose another one.');
    expect((await campaignRow(existing.slug)).title).not.toBe('Copycat');
  });

  it('previews the story with the public renderer (no raw HTML) and saves nothing', async () => {
    const form = campaignForm({ story: '# Why\n\n**Bold** <script>alert(1)</script> [x](javascript:alert(1))' });
    const res = await admin.post('/admin/campaigns', { ...form, preview: 'yes' });
    expect(res.status).toBe(200);
    expect(res.text).toContain('<h1>Why</h1>');
    expect(res.text).toContain('<strong>Bold</strong> &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(res.text).not.toContain('<script>alert(1)</script>');
    expect(res.text).not.toContain('href="javascript:');
    expect(await campaignRow(form.slug)).toBeUndefined();
  });

  it("a viewer sees the list but cannot create (403)", async () => {
    const viewer = await signedInAdmin(kettle, 'viewer');
    expect((await viewer.get('/admin/campaigns')).status).toBe(200);
    const form = campaignForm();
    expect((await viewer.post('/admin/campaigns', form)).status).toBe(403);
    expect(await campaignRow(form.slug)).toBeUndefined();
  });
});

describe('editing a campaign', () => {
  it('changes goal and dates without touching the ledger, audits before and after, and the public page shows it within its short cache', async () => {
    const campaign = await makeCampaign(kettle, { presetAmounts: [10_00, 25_00] });
    await donateAndPay(kettle, campaign, { amount: '25', email: 'edit-donor@example.org' });
    const before = await totalsOf(kettle, campaign.id);
    const ledgerBefore = await kettle.dataSource.query(`SELECT * FROM ledger_entries WHERE campaign_id = $1 ORDER BY id`, [campaign.id]);
    expect((await request(kettle.app).get(`/campaigns/${campaign.slug}`)).text).toContain(campaign.title);

    const edit = await admin.get(`/admin/campaigns/${campaign.slug}/edit`);
    expect(edit.status).toBe(200);
    expect(edit.text).toContain('value="10, 25"');
    const res = await admin.post(`/admin/campaigns/${campaign.slug}`, {
      ...campaignForm(), slug: campaign.slug, currency: 'usd', title: 'A brand new title', goal: '75000', starting_amount: '0',
      starts_at: '2025-01-01', ends_at: '2030-12-31', hero_image_url: 'https://images.example.org/hero.jpg',
    });
    expect(res.status).toBe(303);
    expect(await totalsOf(kettle, campaign.id)).toEqual(before);
    expect(await kettle.dataSource.query(`SELECT * FROM ledger_entries WHERE campaign_id = $1 ORDER BY id`, [campaign.id])).toEqual(ledgerBefore);

    const [entry] = await kettle.dataSource.query(`SELECT before, after FROM admin_audit_log WHERE action = 'campaign.update' AND subject_id = $1`, [campaign.id]);
    expect(entry.before).toMatchObject({ title: campaign.title, goalAmount: 50_000_00 });
    expect(entry.after).toMatchObject({ title: 'A brand new title', goalAmount: 75_000_00, endsAt: '2030-12-31T23:59:59.000Z' });

    // The public page keeps a campaign for about a second: poll, bounded.
    let page = '';
    for (const deadline = Date.now() + 5_000; Date.now() < deadline && !page.includes('A brand new title');) {
      page = (await request(kettle.app).get(`/campaigns/${campaign.slug}`)).text;
    }
    expect(page).toContain('<h1>A brand new title</h1>');
    expect(page).toContain('<img class="hero" src="https://images.example.org/hero.jpg" alt="A brand new title">');
    expect(page).toContain('$75,000');
  });

  it('holding comments keeps those already on the wall (approved as shown, counted in the audit) and holds new ones', async () => {
    const campaign = await makeCampaign(kettle, { presetAmounts: [10_00, 25_00] });
    await donateAndPay(kettle, campaign, { amount: '10', name: 'Early Bird', comment: 'Already public before the hold' });
    const res = await admin.post(`/admin/campaigns/${campaign.slug}`, {
      ...campaignForm(), slug: campaign.slug, title: campaign.title, currency: 'usd', goal: '50000', starting_amount: '0', presets: '10, 25',
      starts_at: campaign.startsAt.toISOString().slice(0, 10), ends_at: campaign.endsAt ? campaign.endsAt.toISOString().slice(0, 10) : '',
      default_frequency: campaign.defaultFrequency, hold_comments: 'yes',
    });
    expect(res.status).toBe(303);
    const [entry] = await kettle.dataSource.query(`SELECT after FROM admin_audit_log WHERE action = 'campaign.update' AND subject_id = $1`, [campaign.id]);
    expect(entry.after).toMatchObject({ holdComments: true, commentsApprovedAsShown: 1 });

    await donateAndPay(kettle, campaign, { amount: '25', name: 'Late Comer', comment: 'Written after the hold' });
    let page = '';
    for (const deadline = Date.now() + 5_000; Date.now() < deadline && !page.includes('Late Comer');) {
      page = (await request(kettle.app).get(`/campaigns/${campaign.slug}`)).text;
    }
    expect(page).toContain('Late Comer');
    expect(page).toContain('Already public before the hold');
    expect(page).not.toContain('Written after the hold');
    expect(page).toContain('shown on the donor wall once approved');
  });

  it('saving an unchanged form changes nothing and writes no audit row', async () => {
    const campaign = await makeCampaign(kettle);
    const edit = await admin.get(`/admin/campaigns/${campaign.slug}/edit`);
    // The text inputs as the browser sends them back; checkboxes and radios as they are checked.
    const values = Object.fromEntries([...edit.text.matchAll(/type="(?:text|date)" id="\w+" name="(\w+)"[^>]*value="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const story = /<textarea id="story" name="story"[^>]*>([^<]*)</.exec(edit.text)![1];
    const res = await admin.post(`/admin/campaigns/${campaign.slug}`, { ...values, story, currency: 'usd', default_frequency: 'once', active: 'yes' });
    expect(res.status).toBe(303);
    const after = await campaignRow(campaign.slug);
    expect(after.starts_at.toISOString()).toBe(campaign.startsAt.toISOString());
    expect(after.ends_at.toISOString()).toBe(campaign.endsAt!.toISOString());
    expect(await kettle.dataSource.query(`SELECT 1 FROM admin_audit_log WHERE subject_id = $1`, [campaign.id])).toEqual([]);
  });

  it('refuses to change the currency once giving has started, and allows it before', async () => {
    const given = await makeCampaign(kettle);
    await donateAndPay(kettle, given, { amount: '10', email: 'currency-donor@example.org' });
    const refused = await admin.post(`/admin/campaigns/${given.slug}`, campaignForm({ slug: given.slug, currency: 'eur' }));
    expect(refused.status).toBe(409);
    expect(fieldError(refused.text, 'currency')).toBe('The currency cannot change once giving has started: the ledger counts this campaign in USD.');
    expect((await campaignRow(given.slug)).currency).toBe('usd');

    const fresh = await makeCampaign(kettle);
    expect((await admin.post(`/admin/campaigns/${fresh.slug}`, campaignForm({ slug: fresh.slug, currency: 'gbp' }))).status).toBe(303);
    expect((await campaignRow(fresh.slug)).currency).toBe('gbp');
  });

  it('renames the slug when free, refuses one taken (409), and 404s for an unknown campaign', async () => {
    const a = await makeCampaign(kettle);
    const b = await makeCampaign(kettle);
    const taken = await admin.post(`/admin/campaigns/${a.slug}`, campaignForm({ slug: b.slug, currency: 'usd' }));
    expect(taken.status).toBe(409);
    expect(fieldError(taken.text, 'slug')).toBe('Another campaign already has this slug. Choose another one.');
    const renamed = await admin.post(`/admin/campaigns/${a.slug}`, campaignForm({ slug: `${a.slug}-renamed`, currency: 'usd' }));
    expect(renamed.status).toBe(303);
    expect((await campaignRow(`${a.slug}-renamed`)).id).toBe(a.id);
    expect((await admin.get('/admin/campaigns/no-such-campaign/edit')).status).toBe(404);
    expect((await admin.post('/admin/campaigns/no-such-campaign', campaignForm())).status).toBe(404);
  });
});
