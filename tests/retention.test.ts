import 'reflect-metadata';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli';
import { CheckoutIntent } from '../src/donations/checkout-intent.entity';
import { donateAndPay, startDonation } from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';

let kettle: TestKettle;
beforeAll(async () => {
  kettle = await startTestKettle();
});
afterAll(() => kettle?.close());

async function purge() {
  const out: string[] = [];
  const err: string[] = [];
  const env = { DATABASE_URL: (kettle.dataSource.options as PostgresDataSourceOptions).url!, DATA_RETENTION_DAYS: '90', LOG_LEVEL: 'silent' };
  const code = await runCli(['retention:purge'], { env, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const personal = { name: 'Ada Lovelace', comment: 'For the night desk', dedication: 'In memory of Charles' };
const intentBySession = (id: string) => kettle.dataSource.getRepository(CheckoutIntent).findOneByOrFail({ stripeCheckoutSessionId: id });
const ageBy = (days: number) => `now() - interval '${days} days'`;

describe('retention:purge', () => {
  it('forgets donors\' details in old webhook payloads and abandoned intents, and keeps the ledger and its proofs', async () => {
    const campaign = await makeCampaign(kettle);
    const gift = await donateAndPay(kettle, campaign, { amount: '25', email: 'giver@example.org', ...personal });
    const expired = await startDonation(kettle, campaign, { amount: '40', email: 'expired@example.org', ...personal });
    await kettle.stripe.checkout.sessions.expire(expired.sessionId);
    await kettle.settled();
    const neverPaid = await startDonation(kettle, campaign, { amount: '15', email: 'left@example.org', ...personal });
    const recentlyAbandoned = await startDonation(kettle, campaign, { amount: '60', email: 'recent@example.org', ...personal });

    // Everything but the recent abandonment is 91 days old; one old event still waits to be applied.
    await kettle.dataSource.query(`UPDATE stripe_events SET received_at = ${ageBy(91)}, processed_at = ${ageBy(91)}`);
    await kettle.dataSource.query(`UPDATE checkout_intents SET created_at = ${ageBy(91)} WHERE stripe_checkout_session_id <> $1`, [recentlyAbandoned.sessionId]);
    await kettle.dataSource.query(
      `INSERT INTO stripe_events (id, type, stripe_created_at, payload, status, awaiting, received_at)
       VALUES ('evt_waiting', 'charge.refunded', ${ageBy(91)}, '{"id":"evt_waiting","data":{"object":{"billing_details":{"email":"waits@example.org"}}}}', 'deferred', 'pi_x', ${ageBy(91)})`);

    const ledgerBefore = await kettle.dataSource.query(`SELECT * FROM ledger_entries ORDER BY id`);
    const eventsBefore: { id: string; type: string; status: string; payload: { created: number; data: { object: { id: string } } } }[] =
      await kettle.dataSource.query(`SELECT id, type, status, payload FROM stripe_events WHERE status IN ('processed', 'ignored') ORDER BY id`);
    expect(JSON.stringify(eventsBefore)).toContain('giver@example.org');

    const first = await purge();
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out).toContain(`(90 days): ${eventsBefore.length} webhook event payloads, 2 abandoned checkout intents; removed 0 expired sessions and 0 expired sign-in links.`);

    const eventsAfter = await kettle.dataSource.query(`SELECT id, type, status, payload FROM stripe_events WHERE status IN ('processed', 'ignored') ORDER BY id`);
    expect(eventsAfter).toEqual(eventsBefore.map((e) => ({
      id: e.id, type: e.type, status: e.status,
      payload: { id: e.id, object: 'event', type: e.type, created: e.payload.created, data: { object: { id: e.payload.data.object.id, object: expect.any(String) } } },
    })));
    const [waiting] = await kettle.dataSource.query(`SELECT payload FROM stripe_events WHERE id = 'evt_waiting'`);
    expect(JSON.stringify(waiting.payload)).toContain('waits@example.org');

    expect(await kettle.dataSource.query(`SELECT * FROM ledger_entries ORDER BY id`)).toEqual(ledgerBefore);
    expect(await totalsOf(kettle, campaign.id)).toEqual({ kept: { raised: 2500, gifts: 1, donors: 1 }, recomputed: { raised: 2500, gifts: 1, donors: 1 } });

    const forgotten = { email: '', donorName: null, comment: null, dedication: null, newsletter: false };
    expect(await intentBySession(expired.sessionId)).toMatchObject({ ...forgotten, status: 'expired', totalAmount: 4000 });
    expect(await intentBySession(neverPaid.sessionId)).toMatchObject({ ...forgotten, totalAmount: 1500 });
    expect(await intentBySession(gift.sessionId)).toMatchObject({ status: 'completed', email: 'giver@example.org', donorName: 'Ada Lovelace', comment: 'For the night desk' });
    expect(await intentBySession(recentlyAbandoned.sessionId)).toMatchObject({ email: 'recent@example.org', donorName: 'Ada Lovelace' });

    expect((await purge()).out).toContain('0 webhook event payloads, 0 abandoned checkout intents; removed 0 expired sessions and 0 expired sign-in links.');
  });

  it('deletes expired sign-in sessions and keeps live ones (the session store prunes nothing itself)', async () => {
    await kettle.dataSource.query(
      `INSERT INTO web_sessions (sid, sess, expire) VALUES
         ('expired-1', '{"donorId":"x"}', now() - interval '1 minute'), ('expired-2', '{}', now() - interval '30 days'),
         ('live', '{"donorId":"y"}', now() + interval '1 hour')`);
    expect((await purge()).out).toContain('removed 2 expired sessions and 0 expired sign-in links.');
    expect(await kettle.dataSource.query(`SELECT sid FROM web_sessions`)).toEqual([{ sid: 'live' }]);
  });

  it('deletes sign-in links a day after they expired, used or not, and keeps the others', async () => {
    const [donor] = await kettle.dataSource.query(`INSERT INTO donors (email) VALUES ('links@example.org') RETURNING id`);
    await kettle.dataSource.query(
      `INSERT INTO donor_sign_in_tokens (donor_id, expires_at, used_at) VALUES
         ($1, now() - interval '2 days', NULL), ($1, now() - interval '3 days', now() - interval '3 days'),
         ($1, now() - interval '1 hour', NULL), ($1, now() + interval '20 minutes', NULL)`, [donor.id]);
    expect((await purge()).out).toContain('and 2 expired sign-in links.');
    expect((await kettle.dataSource.query(`SELECT 1 FROM donor_sign_in_tokens`)).length).toBe(2);
  });

  it('refuses a retention period that is not a whole number of days', async () => {
    const err: string[] = [];
    const code = await runCli(['retention:purge'], { env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x', DATA_RETENTION_DAYS: '0' }, out: () => {}, err: (l) => err.push(l) });
    expect(code).toBe(2);
    expect(err.join('\n')).toContain('Invalid setting DATA_RETENTION_DAYS: must be at least 30');
  });
});
