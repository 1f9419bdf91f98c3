import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountLinks, SIGN_IN_LINK_MINUTES } from '../src/account/links';
import { DEFAULT_OUTBOX_POLICY } from '../src/email/outbox-delivery';
import { queueMails, receiptMail } from '../src/email/outbox';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { donateAndPay, startDonation } from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';
import { ledgerSeed } from './helpers/ledger-seed';
import { addressedTo, type TestMailbox } from './helpers/mailbox';

// The mail outbox: queued with the gift, sent by the worker, retried while the SMTP server is
// away, never lost across a restart, never sent twice in the normal case.

let kettle: TestKettle;
let mailbox: TestMailbox;
const logLines: string[] = [];

beforeAll(async () => {
  kettle = await startTestKettle({ mailbox: true, logStream: { write: (line) => { logLines.push(line); } } });
  mailbox = kettle.mailbox!;
});
afterAll(() => kettle?.close());

interface OutboxRow {
  id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  sent_at: Date | null;
  locked_until: Date | null;
}

/** The outbox rows of mails to this address, oldest first. */
const outboxOf = async (email: string): Promise<OutboxRow[]> => kettle.dataSource.query(
  `SELECT o.id, o.status, o.attempts, o.last_error, o.sent_at, o.locked_until
     FROM email_outbox o JOIN donors d ON d.id = o.donor_id WHERE lower(d.email) = $1 ORDER BY o.created_at`,
  [email],
);

const receiptsTo = (email: string) => mailbox.matching(addressedTo(email, /Receipt/));

/** Gives and has the gift counted, with the mail queued but not sent: the mail worker is stopped, settled() is not used. */
async function giveWhileMailWaits(campaign: Campaign, email: string) {
  const { sessionId } = await startDonation(kettle, campaign, { amount: '9', email });
  const paid = await kettle.emulator.pay(sessionId, { number: '4242424242424242', email });
  expect(paid.ok).toBe(true);
  await kettle.emulator.idle();
  await kettle.webhookWorker.drain();
}

/** Runs `act` with the app's mail worker stopped (a restart, a crash), and starts it again. */
async function withMailWorkerStopped(act: () => Promise<void>) {
  await kettle.mailWorker.stop();
  try {
    await act();
  } finally {
    kettle.mailWorker.start();
  }
}

describe('when the SMTP server is down', () => {
  it('still counts the gift, and mails the receipt once the server is back, exactly once', async () => {
    const campaign = await makeCampaign(kettle);
    await mailbox.stop();
    try {
      await donateAndPay(kettle, campaign, { amount: '40', email: 'outage@example.org' });
      expect(await totalsOf(kettle, campaign.id)).toEqual({ kept: { raised: 4000, gifts: 1, donors: 1 }, recomputed: { raised: 4000, gifts: 1, donors: 1 } });
      const [waiting] = await outboxOf('outage@example.org');
      expect(waiting).toMatchObject({ status: 'pending' });
      expect(waiting.attempts).toBeGreaterThanOrEqual(1);
      expect(waiting.last_error).toMatch(/ECONNREFUSED/);
    } finally {
      await mailbox.start();
    }

    // Nobody drains: the worker tries again by itself when the backoff ends.
    const receipt = await mailbox.waitFor(addressedTo('outage@example.org', /Receipt/));
    expect(receipt.text).toContain('$40.00');
    await kettle.settled();
    expect(receiptsTo('outage@example.org')).toHaveLength(1);
    const [sent] = await outboxOf('outage@example.org');
    expect(sent).toMatchObject({ status: 'sent', last_error: null, locked_until: null });
    expect(receipt.messageId).toBe(`<${sent.id}@127.0.0.1>`);
    // Logs say what failed and when it is tried again, never to whom.
    expect(logLines.some((line) => line.includes('mail not sent; will try again'))).toBe(true);
    expect(logLines.join('\n')).not.toContain('outage@example.org');
  });

  it('parks a mail for a person after its last try, with the reason and no address in it', async () => {
    const campaign = await makeCampaign(kettle);
    await withMailWorkerStopped(async () => {
      await giveWhileMailWaits(campaign, 'last-try@example.org');
      await kettle.dataSource.query(
        `UPDATE email_outbox SET attempts = $1 WHERE donor_id = (SELECT id FROM donors WHERE email = 'last-try@example.org')`,
        [DEFAULT_OUTBOX_POLICY.maxAttempts - 1],
      );
      await mailbox.stop();
      try {
        await kettle.mailWorker.drain();
      } finally {
        await mailbox.start();
      }
    });
    await kettle.settled();
    const [parked] = await outboxOf('last-try@example.org');
    expect(parked).toMatchObject({ status: 'failed', attempts: DEFAULT_OUTBOX_POLICY.maxAttempts, sent_at: null });
    expect(parked.last_error).toMatch(/ECONNREFUSED/);
    expect(receiptsTo('last-try@example.org')).toEqual([]);
    expect(logLines.some((line) => line.includes('parked for a person'))).toBe(true);
  });

  it('parks at once a mail the server refuses for good (no such mailbox), without the address in the reason', async () => {
    mailbox.refuseRecipient('no-such-user@example.org');
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '11', email: 'no-such-user@example.org' });
    const [refused] = await outboxOf('no-such-user@example.org');
    expect(refused).toMatchObject({ status: 'failed', attempts: 1 });
    expect(refused.last_error).toMatch(/^EENVELOPE 550: /);
    expect(refused.last_error).toContain('[address]');
    expect(refused.last_error).not.toContain('no-such-user');
  });
});

describe('an address that is not one address', () => {
  it('parks the mail, sending nothing to any address in it, when a stored address holds a list or a line break', async () => {
    // The donation form refuses such addresses; one could still come with a payment from Stripe.
    const seed = ledgerSeed(kettle);
    const campaign = await makeCampaign(kettle);
    const stored = ['listed@example.org, other@example.org', 'broken@example.org\r\nBcc: other@example.org', 'Name <named@example.org>'];
    for (const email of stored) {
      const donorId = await seed.donor(email);
      const entryId = await seed.gift(campaign, donorId, 500, new Date().toISOString());
      await kettle.dataSource.transaction((tx) => queueMails(tx, [receiptMail(entryId, donorId)]));
    }
    await kettle.settled();

    const rows = await kettle.dataSource.query(
      `SELECT o.status, o.attempts, o.last_error FROM email_outbox o JOIN donors d ON d.id = o.donor_id WHERE d.email = ANY($1)`,
      [stored],
    );
    expect(rows).toEqual(stored.map(() => ({ status: 'failed', attempts: 1, last_error: 'the donor\'s email address is not one plain address' })));
    for (const address of ['listed@example.org', 'other@example.org', 'broken@example.org', 'named@example.org']) {
      expect(mailbox.matching(addressedTo(address))).toEqual([]);
    }
  });
});

describe('restarts and crashes', () => {
  it('loses nothing while the worker is stopped: the mail waits in the outbox and goes when it starts', async () => {
    const campaign = await makeCampaign(kettle);
    await withMailWorkerStopped(async () => {
      await giveWhileMailWaits(campaign, 'restart@example.org');
      expect(await outboxOf('restart@example.org')).toMatchObject([{ status: 'pending', attempts: 0 }]);
      expect(receiptsTo('restart@example.org')).toEqual([]);
    });
    await mailbox.waitFor(addressedTo('restart@example.org', /Receipt/));
    await kettle.settled();
    expect(receiptsTo('restart@example.org')).toHaveLength(1);
  });

  it('sends a mail claimed by a worker that died once its lease runs out, not before', async () => {
    const campaign = await makeCampaign(kettle);
    let leaseEnds = new Date(0);
    await withMailWorkerStopped(async () => {
      await giveWhileMailWaits(campaign, 'lease@example.org');
      // Another instance claimed it, then crashed before sending.
      const [[claimed]] = await kettle.dataSource.query(
        `UPDATE email_outbox SET locked_until = now() + interval '400 milliseconds'
          WHERE donor_id = (SELECT id FROM donors WHERE email = 'lease@example.org') RETURNING locked_until`,
      );
      leaseEnds = claimed.locked_until;
      expect(await kettle.mailWorker.drain()).toBe(0);
    });
    await mailbox.waitFor(addressedTo('lease@example.org', /Receipt/));
    await kettle.settled();
    const [row] = await outboxOf('lease@example.org');
    expect(row.status).toBe('sent');
    expect(row.sent_at!.getTime()).toBeGreaterThanOrEqual(leaseEnds.getTime());
    expect(receiptsTo('lease@example.org')).toHaveLength(1);
  });

  it('sends a mail again, with the same Message-ID, when the server took it but Kettle never recorded that', async () => {
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '13', email: 'crash@example.org' });
    const [first] = receiptsTo('crash@example.org');
    // As if the process died between the server's "250 OK" and marking the row sent.
    await kettle.dataSource.query(`UPDATE email_outbox SET status = 'pending', sent_at = NULL WHERE id = $1`, [first.messageId.slice(1, 37)]);
    await kettle.settled();
    const copies = receiptsTo('crash@example.org');
    expect(copies).toHaveLength(2);
    expect(copies[1].messageId).toBe(first.messageId);
  });
});

describe('mails that no longer make sense', () => {
  it('skips a mail whose donor was erased, and says why', async () => {
    const campaign = await makeCampaign(kettle);
    await withMailWorkerStopped(async () => {
      await giveWhileMailWaits(campaign, 'erased@example.org');
      await kettle.dataSource.query(`UPDATE donors SET email = '', name = NULL WHERE email = 'erased@example.org'`);
      await kettle.mailWorker.drain();
    });
    const [row] = await kettle.dataSource.query(
      `SELECT o.status, o.last_error FROM email_outbox o JOIN donors d ON d.id = o.donor_id JOIN ledger_entries e ON e.donor_id = d.id WHERE e.campaign_id = $1`,
      [campaign.id],
    );
    expect(row).toEqual({ status: 'skipped', last_error: 'the donor was erased or has no email address' });
  });

  it('skips a receipt whose gift no longer exists', async () => {
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '7', email: 'gone@example.org' });
    const [{ id: donorId }] = await kettle.dataSource.query(`SELECT id FROM donors WHERE email = 'gone@example.org'`);
    const missingEntry = '00000000-0000-4000-8000-000000000000';
    await kettle.dataSource.transaction((tx) => queueMails(tx, [{ dedupeKey: `receipt:${missingEntry}`, kind: 'receipt', donorId, params: { entryId: missingEntry } }]));
    await kettle.settled();
    const [row] = await kettle.dataSource.query(`SELECT status, last_error FROM email_outbox WHERE dedupe_key = $1`, [`receipt:${missingEntry}`]);
    expect(row).toEqual({ status: 'skipped', last_error: 'the gift no longer exists' });
    expect(receiptsTo('gone@example.org')).toHaveLength(1);
  });
});

describe('the sign-in link', () => {
  /** A sign-in token as the sign-in form makes it, and its mail queued. */
  async function askForLink(email: string, token: { expiresInMinutes: number; used?: boolean }) {
    const [{ id: donorId }] = await kettle.dataSource.query(`SELECT id FROM donors WHERE email = $1`, [email]);
    const [{ id: tokenId }] = await kettle.dataSource.query(
      `INSERT INTO donor_sign_in_tokens (donor_id, expires_at, used_at) VALUES ($1, now() + $2 * interval '1 minute', $3) RETURNING id`,
      [donorId, token.expiresInMinutes, token.used ? new Date() : null],
    );
    await kettle.dataSource.transaction((tx) => queueMails(tx, [{ dedupeKey: `sign_in:${tokenId}`, kind: 'sign_in_link', donorId, params: { tokenId } }]));
    await kettle.settled();
    return tokenId as string;
  }

  it('mails the single-use link, valid 30 minutes', async () => {
    await donateAndPay(kettle, await makeCampaign(kettle), { amount: '6', email: 'sign-in@example.org', name: 'Sia' });
    const tokenId = await askForLink('sign-in@example.org', { expiresInMinutes: SIGN_IN_LINK_MINUTES });
    const mail = await mailbox.waitFor(addressedTo('sign-in@example.org', /sign-in link/));
    expect(mail.subject).toBe('Your sign-in link for Test Newsroom');
    expect(mail.text).toContain('It works once, for the next 30 minutes');
    const link = new AccountLinks(kettle.baseUrl, kettle.config.sessionSecret).signInUrl(tokenId);
    expect(mail.links).toContain(link);
  });

  it('sends nothing for a link used or expired before the mail went out', async () => {
    await donateAndPay(kettle, await makeCampaign(kettle), { amount: '6', email: 'stale-link@example.org' });
    await askForLink('stale-link@example.org', { expiresInMinutes: 30, used: true });
    await askForLink('stale-link@example.org', { expiresInMinutes: -1 });
    expect(mailbox.matching(addressedTo('stale-link@example.org', /sign-in/))).toEqual([]);
    const rows = await kettle.dataSource.query(`SELECT status, last_error FROM email_outbox WHERE kind = 'sign_in_link' AND status = 'skipped'`);
    expect(rows).toEqual([
      { status: 'skipped', last_error: 'the sign-in token was used or expired before it could be sent' },
      { status: 'skipped', last_error: 'the sign-in token was used or expired before it could be sent' },
    ]);
  });
});
