import 'reflect-metadata';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../../src/campaigns/campaign.entity';
import { RecurringGift } from '../../src/donations/recurring-gift.entity';
import { donorIdOf } from '../helpers/account';
import { CHROMIUM, haveChromium, launchTestBrowser, payOnCheckout, type TestBrowser } from '../helpers/browser';
import { makeCampaign, startTestKettle, type TestKettle } from '../helpers/kettle';
import { addressedTo } from '../helpers/mailbox';

describe.skipIf(!haveChromium)(`a monthly donor in a real browser (${CHROMIUM})`, () => {
  let kettle: TestKettle;
  let campaign: Campaign;
  let browser: TestBrowser;

  beforeAll(async () => {
    kettle = await startTestKettle({ mailbox: true });
    campaign = await makeCampaign(kettle, { presetAmounts: [10_00, 25_00, 50_00] });
    browser = await launchTestBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await kettle?.close();
  });

  it('gives monthly, opens the manage link from the receipt, and cancels in two clicks', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${kettle.baseUrl}/campaigns/${campaign.slug}`);
    await page.getByLabel('Monthly').check();
    await page.getByLabel('$10').check();
    await page.getByLabel('Email (for your receipt)').fill('browser-monthly@example.org');
    await page.getByRole('button', { name: 'Donate' }).click();
    await page.waitForURL(`${kettle.emulator.url}/checkout/**`);
    await payOnCheckout(page, '4242 4242 4242 4242');
    await page.waitForURL(`${kettle.baseUrl}/thanks?session_id=*`);
    await page.getByText('is confirmed').waitFor();
    await page.getByText('A receipt is on its way by email').waitFor();
    expect(await page.getByRole('link', { name: 'Manage your gifts' }).getAttribute('href')).toBe('/account');

    // The receipt, as a real SMTP server received it, and the manage link in it.
    const receipt = await kettle.mailbox!.waitFor(addressedTo('browser-monthly@example.org', /Receipt/));
    expect(receipt.text).toContain('$10.00');
    const manageLink = receipt.links.find((link) => link.startsWith(`${kettle.baseUrl}/account/manage/`));
    expect(manageLink).toBeDefined();
    await page.goto(manageLink!);
    const donorId = await donorIdOf(kettle, 'browser-monthly@example.org');

    // Click 1: the link's page has one button.
    await page.getByRole('button', { name: 'Continue to my gifts' }).click();
    await page.waitForURL(`${kettle.baseUrl}/account`);
    await expect(page.getByRole('heading', { level: 3 }).textContent()).resolves.toMatch(/^\$10 every month/);
    await expect(page.getByTestId('plan-status').textContent()).resolves.toBe('Active');

    // Click 2: cancel, at the end of the period already paid for (the default), no reason needed.
    await page.getByRole('button', { name: 'Cancel my gift' }).click();
    await page.waitForURL(`${kettle.baseUrl}/account#plan-*`);
    await expect(page.getByTestId('flash').textContent()).resolves.toContain('Your gift will end on');
    await expect(page.getByTestId('plan-status').textContent()).resolves.toMatch(/^Ending on /);
    // A gift set to end has no next gift to change: only "Keep my gift" is offered.
    expect(await page.getByRole('button', { name: 'Change amount' }).count()).toBe(0);
    await page.screenshot({ path: path.join(tmpdir(), 'kettle-account-canceled.png'), fullPage: true });

    const [plan] = await kettle.dataSource.getRepository(RecurringGift).findBy({ donorId });
    expect((await kettle.stripe.subscriptions.retrieve(plan.stripeSubscriptionId)).cancel_at_period_end).toBe(true);

    // A change of mind is one click too.
    await page.getByRole('button', { name: 'Keep my gift' }).click();
    await expect(page.getByTestId('plan-status').textContent()).resolves.toBe('Active');
    expect(await page.getByRole('button', { name: 'Change amount' }).count()).toBe(1);

    // The card is replaced on Stripe's billing portal (the form's redirect there is allowed by the
    // page's CSP), which sends the donor back to their account showing the new card.
    await page.getByRole('button', { name: 'Update card' }).click();
    await page.waitForURL(`${kettle.emulator.url}/portal/**`);
    await page.getByLabel('Card number').fill('5555 5555 5555 4444');
    await page.getByLabel(/Expiry/).fill('12 / 34');
    await page.getByRole('button', { name: 'Save card' }).click();
    await page.waitForURL(`${kettle.baseUrl}/account`);
    await expect(page.getByTestId('flash').textContent()).resolves.toContain('Your new card is saved');
    await expect(page.getByTestId('plan-card').textContent()).resolves.toMatch(/4444/);

    // Cancelling sent a confirmation.
    await kettle.mailbox!.waitFor(addressedTo('browser-monthly@example.org', /will end on/));
  }, 60_000);
});
