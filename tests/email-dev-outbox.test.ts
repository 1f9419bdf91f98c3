import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app';
import { donateAndPay } from './helpers/flows';
import { makeCampaign, startTestKettle, WEBHOOK_SECRET, type TestKettle } from './helpers/kettle';

// Without SMTP_URL (development), mail is written to DATA_DIR/outbox and shown at /dev/outbox.

let kettle: TestKettle;

beforeAll(async () => {
  kettle = await startTestKettle();
});
afterAll(() => kettle?.close());

describe('the development outbox', () => {
  it('keeps each mail as an .eml file and lists it, newest first, with its HTML shown in a sandboxed frame', async () => {
    expect(kettle.config.mail.smtpUrl).toBeUndefined();
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '8', email: 'first@example.org' });
    await donateAndPay(kettle, campaign, { amount: '9', email: 'second@example.org', name: '<i>Sam</i>' });
    const [row] = await kettle.dataSource.query(
      `SELECT o.id, o.status FROM email_outbox o JOIN donors d ON d.id = o.donor_id WHERE d.email = 'second@example.org'`,
    );
    expect(row.status).toBe('sent');

    const eml = await readFile(path.join(kettle.config.mail.outboxDir, `${row.id}.eml`), 'utf8');
    expect(eml).toContain('Subject: Receipt for your gift of $9.00 to Test Newsroom');
    expect(eml).toContain('To: second@example.org');

    const page = await request(kettle.app).get('/dev/outbox');
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text.indexOf('$9.00')).toBeLessThan(page.text.indexOf('$8.00'));
    expect(page.text).toContain(`<iframe src="/dev/outbox/${row.id}"`);
    expect(page.text).toContain('sandbox="allow-top-navigation-by-user-activation allow-popups"');

    const framed = await request(kettle.app).get(`/dev/outbox/${row.id}`);
    expect(framed.status).toBe(200);
    expect(framed.headers['content-type']).toMatch(/^text\/html/);
    expect(framed.headers['content-security-policy']).toContain("default-src 'none'");
    expect(framed.headers['content-security-policy']).toContain('sandbox');
    expect(framed.text).toContain('<base target="_top">');
    expect(framed.text).toContain('Dear &lt;i&gt;Sam&lt;/i&gt;,');

    const text = await request(kettle.app).get(`/dev/outbox/${row.id}/text`);
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    expect(text.text).toContain('Dear <i>Sam</i>,');
  });

  it('answers 404 for a mail it does not have, whatever the id looks like', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', '..%2F..%2Fetc%2Fpasswd', 'nope']) {
      expect((await request(kettle.app).get(`/dev/outbox/${id}`)).status).toBe(404);
    }
  });

  it('is not there when Kettle runs against Stripe itself', async () => {
    const { app } = createApp({
      config: kettle.config, dataSource: kettle.dataSource, stripe: kettle.stripe, webhookSecret: WEBHOOK_SECRET,
      logger: pino({ level: 'silent' }), testMode: false, checkoutOrigins: [],
    });
    expect((await request(app).get('/dev/outbox')).status).toBe(404);
  });
});
