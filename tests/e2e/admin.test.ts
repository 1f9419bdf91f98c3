import 'reflect-metadata';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminAccount } from '../../src/admin/accounts/admin-accounts.service';
import type { Campaign } from '../../src/campaigns/campaign.entity';
import { ADMIN_PASSWORD } from '../helpers/admin';
import { CHROMIUM, haveChromium, launchTestBrowser, payOnCheckout, type TestBrowser } from '../helpers/browser';
import { donorIdOf } from '../helpers/account';
import { donateAndPay } from '../helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from '../helpers/kettle';

const DAY_MS = 24 * 60 * 60 * 1000;

describe.skipIf(!haveChromium)(`an admin runs the campaign in a real browser (${CHROMIUM})`, () => {
  let kettle: TestKettle;
  let campaign: Campaign;
  let browser: TestBrowser;

  beforeAll(async () => {
    kettle = await startTestKettle();
    campaign = await makeCampaign(kettle, {
      title: 'Urgent end-of-year fundraising campaign',
      goalAmount: 10_000_00,
      presetAmounts: [10_00, 25_00, 50_00],
      startsAt: new Date(Date.now() - 10 * DAY_MS),
      endsAt: new Date(Date.now() + 30 * DAY_MS),
    });
    await createAdminAccount(kettle.dataSource, { email: 'editor@example.org', role: 'admin', password: ADMIN_PASSWORD });
    browser = await launchTestBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await kettle?.close();
  });

  it('signs in, records a cheque, and watches the dashboard move when a gift is made in another tab', async () => {
    const admin = await browser.context.newPage();
    await admin.goto(`${kettle.baseUrl}/admin`);
    await admin.waitForURL(`${kettle.baseUrl}/admin/sign-in`);
    await admin.getByLabel('Email address').fill('editor@example.org');
    await admin.getByLabel('Password').fill(ADMIN_PASSWORD);
    await admin.getByRole('button', { name: 'Sign in' }).click();

    // The console opens on the running campaign's dashboard.
    await admin.waitForURL(`${kettle.baseUrl}/admin/campaigns/${campaign.slug}`);
    await expect(admin.getByTestId('raised').textContent()).resolves.toBe('$0');

    await admin.getByRole('link', { name: 'Record an offline gift' }).click();
    await admin.getByLabel(/^Amount/).fill('250');
    await admin.getByLabel('Paid by').selectOption({ label: 'Cheque' });
    await admin.getByLabel(/^Reference/).fill('1042');
    await admin.getByLabel(/^Donor's email/).fill('cheque.writer@example.org');
    await admin.getByLabel(/^Donor's name/).fill('Chequé Writer');
    await admin.getByRole('button', { name: 'Record the gift' }).click();
    await admin.waitForURL(/\/admin\/gifts\/[0-9a-f-]{36}$/);
    await admin.getByText('Cheque (1042)').waitFor();
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 250_00, gifts: 1, donors: 1 });

    // Stats are recomputed when the campaign's totals moved (at most once a second while money keeps moving).
    await admin.goto(`${kettle.baseUrl}/admin/campaigns/${campaign.slug}`);
    await admin.getByTestId('raised').filter({ hasText: '$250' }).waitFor({ timeout: 20_000 });
    await admin.screenshot({ path: path.join(tmpdir(), 'kettle-admin-dashboard.png'), fullPage: true });
    // A marker that a reload would wipe: the figures must move without one.
    await admin.evaluate(() => { (globalThis as unknown as { stayed: boolean }).stayed = true; });

    const supporter = await browser.context.newPage();
    await supporter.goto(`${kettle.baseUrl}/campaigns/${campaign.slug}`);
    await supporter.getByLabel('$25').check();
    await supporter.getByLabel('Once').check();
    await supporter.getByLabel('Email (for your receipt)').fill('reader@example.org');
    await supporter.getByRole('button', { name: 'Donate' }).click();
    await supporter.waitForURL(`${kettle.emulator.url}/checkout/**`);
    await payOnCheckout(supporter, '4242 4242 4242 4242');
    await supporter.waitForURL(`${kettle.baseUrl}/thanks?session_id=*`);
    await supporter.getByText('is confirmed').waitFor();

    // The dashboard refreshes itself every 15 s (figures kept 5 s): wait for the new total, bounded.
    await admin.getByTestId('raised').filter({ hasText: '$275' }).waitFor({ timeout: 40_000 });
    await expect(admin.getByTestId('gifts').textContent()).resolves.toBe('2');
    await expect(admin.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed)).resolves.toBe(true);
    await expect(admin.getByTestId('latest-gifts').textContent()).resolves.toContain('Chequé Writer');
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 275_00, gifts: 2, donors: 2 });
  }, 90_000);

  it('fits every console page on a 390 px phone: tables scroll in their own box, long words and codes wrap', async () => {
    await kettle.dataSource.query(`UPDATE campaigns SET hold_comments = true WHERE id = $1`, [campaign.id]);
    await donateAndPay(kettle, campaign, {
      amount: '10', email: 'a.very.long.address.for.a.narrow.screen@example.org', name: 'Ada Lovelace', comment: 'Unbroken-'.repeat(12),
    });
    const donorId = await donorIdOf(kettle, 'a.very.long.address.for.a.narrow.screen@example.org');
    await createAdminAccount(kettle.dataSource, { email: 'owner-with-a-long-address@example.org', role: 'owner', password: ADMIN_PASSWORD });
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${kettle.baseUrl}/admin/sign-in`);
    await page.getByLabel('Email address').fill('owner-with-a-long-address@example.org');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${kettle.baseUrl}/admin/campaigns/${campaign.slug}`);

    const wide: string[] = [];
    for (const url of ['/admin/moderation', '/admin/accounts', '/admin/gifts', '/admin/campaigns', '/admin/recurring', '/admin/webhooks',
      `/admin/donors/${donorId}`, '/admin/donors', '/admin/exports', `/admin/campaigns/${campaign.slug}`]) {
      await page.goto(`${kettle.baseUrl}${url}`);
      const width = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
      if (width > 390) wide.push(`${url}: ${width}px`);
    }
    expect(wide).toEqual([]);

    // The moderation buttons are in view beside the comment, without scrolling the table sideways.
    await page.goto(`${kettle.baseUrl}/admin/moderation`);
    const approve = page.getByRole('button', { name: 'Approve' }).first();
    const box = await approve.boundingBox();
    expect(box && box.x + box.width).toBeLessThanOrEqual(390);
    await page.close();
  }, 90_000);
});
