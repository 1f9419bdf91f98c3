import 'reflect-metadata';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../../src/campaigns/campaign.entity';
import { CHROMIUM, haveChromium, launchTestBrowser, payOnCheckout, type TestBrowser } from '../helpers/browser';
import { startDonation } from '../helpers/flows';
import { appVariant, makeCampaign, startTestKettle, totalsOf, type TestKettle } from '../helpers/kettle';

describe.skipIf(!haveChromium)(`a supporter in a real browser (${CHROMIUM})`, () => {
  let kettle: TestKettle;
  let campaign: Campaign;
  let browser: TestBrowser;

  beforeAll(async () => {
    kettle = await startTestKettle();
    campaign = await makeCampaign(kettle, { goalAmount: 1_000_00, presetAmounts: [10_00, 25_00, 50_00] });
    browser = await launchTestBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await kettle?.close();
  });

  it('gives $25 once with the test card and sees the total move', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${kettle.baseUrl}/campaigns/${campaign.slug}`);
    await expect(page.getByTestId('raised').textContent()).resolves.toBe('$0');

    await page.getByLabel('$25').check();
    await page.getByLabel('Once').check();
    await page.getByLabel('Email (for your receipt)').fill('browser@example.org');
    await page.getByLabel('Name (optional)').fill('Browser Donor');
    await page.getByRole('button', { name: 'Donate' }).click();

    await page.waitForURL(`${kettle.emulator.url}/checkout/**`);
    await page.screenshot({ path: path.join(tmpdir(), 'kettle-checkout.png') });
    await payOnCheckout(page, '4242 4242 4242 4242');

    await page.waitForURL(`${kettle.baseUrl}/thanks?session_id=*`);
    await page.getByText('is confirmed').waitFor();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Thank you, Browser Donor!');
    await expect(page.getByTestId('raised').textContent()).resolves.toBe('$25');
    await page.screenshot({ path: path.join(tmpdir(), 'kettle-thanks.png'), fullPage: true });
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 2500, gifts: 1, donors: 1 });
  });

  it('shows a declined card on the checkout page and counts nothing', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${kettle.baseUrl}/campaigns/${campaign.slug}`);
    await page.getByLabel('Other', { exact: true }).check();
    await page.getByLabel('Other amount').fill('37.50');
    await page.getByLabel('Email (for your receipt)').fill('declined@example.org');
    await page.getByRole('button', { name: 'Donate' }).click();
    await page.waitForURL(`${kettle.emulator.url}/checkout/**`);
    await payOnCheckout(page, '4000 0000 0000 0002');
    await page.getByText('Your card was declined.').waitFor();
    expect((await totalsOf(kettle, campaign.id)).kept.raised).toBe(2500);
  });

  it('is asked for the proof-of-work check when gifts surge, solves it in the page and gives', async () => {
    // A Kettle whose campaign limit is one gift a minute: the second donor meets the challenge.
    const surge = appVariant(kettle, { config: { donateLimits: { perIpPerHour: 1_000_000, perEmailPerHour: 1_000_000, perCampaignPerMinute: 1, hardPerIpPerHour: 1_000_000 } } });
    const server = createServer(surge);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const surging = await makeCampaign(kettle);
      await startDonation(kettle, surging, { amount: '10', email: 'first@example.org' });

      const page = await browser.context.newPage();
      await page.goto(`${url}/campaigns/${surging.slug}`);
      await page.getByLabel('$25').check();
      await page.getByLabel('Email (for your receipt)').fill('second@example.org');
      await page.getByRole('button', { name: 'Donate' }).click();
      await page.getByText('We are seeing many donation attempts right now.').waitFor();
      await expect(page.getByLabel('Email (for your receipt)').inputValue()).resolves.toBe('second@example.org');

      // The widget (served from /assets/altcha) solves the challenge by itself and fills the form field.
      await expect.poll(() => page.locator('input[name="altcha"]').inputValue(), { timeout: 60_000 }).not.toBe('');
      await page.screenshot({ path: path.join(tmpdir(), 'kettle-challenge.png'), fullPage: true });
      await page.getByRole('button', { name: 'Donate' }).click();
      await page.waitForURL(`${kettle.emulator.url}/checkout/**`);
      expect(await page.getByText('$25').count()).toBeGreaterThan(0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 120_000);
});
