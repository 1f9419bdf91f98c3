import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedInAdmin, type AdminBrowser } from './helpers/admin';
import { donateAndPay } from './helpers/flows';
import { makeCampaign, startTestKettle, type TestKettle } from './helpers/kettle';
import { donorIdOf } from './helpers/account';

// Review of the admin console (issue 7): each test states what should hold and fails where it does not.

let kettle: TestKettle;
let admin: AdminBrowser;
let owner: AdminBrowser;

beforeAll(async () => {
  kettle = await startTestKettle();
  admin = await signedInAdmin(kettle, 'admin');
  owner = await signedInAdmin(kettle, 'owner');
});
afterAll(() => kettle?.close());

describe('erasure', () => {
  it('leaves no copy of the donor\'s email in the webhook events Kettle keeps', async () => {
    const campaign = await makeCampaign(kettle);
    const email = `erase-me-${Date.now()}@example.org`;
    await donateAndPay(kettle, campaign, { amount: '10', email, name: 'Erin Erasable' });
    await kettle.settled();
    const donorId = await donorIdOf(kettle, email);
    const res = await owner.post(`/admin/donors/${donorId}/erase`, { confirm: 'ERASE' });
    expect(res.status).toBe(303);
    const [left] = await kettle.dataSource.query(
      `SELECT count(*)::int AS n FROM stripe_events WHERE payload::text ILIKE $1 OR payload::text ILIKE $2`, [`%${email}%`, '%Erin Erasable%']);
    expect(left.n).toBe(0);
  });
});

describe('offline gifts', () => {
  const nonce = () => randomUUID().replace(/-/g, '');

  it('erasing a donor leaves no personal data in their offline gifts\' notes and references, nor in the audit log', async () => {
    const campaign = await makeCampaign(kettle);
    const email = `cheque-${Date.now()}@example.org`;
    const res = await admin.post(`/admin/campaigns/${campaign.slug}/offline-gifts`, {
      amount: '250', received_on: new Date().toISOString().slice(0, 10), method: 'cheque', reference: 'Cheque 1044 J. Chequewriter',
      donor_email: email, donor_name: 'Jo Chequewriter', note: 'Jo Chequewriter, 12 High Street, phoned to say it is in memory of her mother', nonce: nonce(),
    });
    expect(res.status).toBe(303);
    const giftId = res.headers.location.split('/').pop()!;
    const donorId = await donorIdOf(kettle, email);
    expect((await owner.post(`/admin/donors/${donorId}/erase`, { confirm: 'ERASE' })).status).toBe(303);

    const [gift] = await kettle.dataSource.query(`SELECT note, reference FROM offline_gifts WHERE entry_id = $1`, [giftId]);
    expect(gift.note ?? '').not.toContain('Chequewriter');
    const audits = await kettle.dataSource.query(`SELECT after::text AS after FROM admin_audit_log WHERE subject_id = $1`, [giftId]);
    expect(audits.map((a: { after: string }) => a.after).join('\n')).not.toContain('Chequewriter');
    expect((await admin.get(`/admin/gifts/${giftId}`)).text).not.toContain('Chequewriter');
  });
});


