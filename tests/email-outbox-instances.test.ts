import 'reflect-metadata';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSource } from '../src/db/data-source';
import { createMailer, type Mailer } from '../src/email/mailer';
import { DEFAULT_OUTBOX_POLICY, OutboxDelivery, type OutboxPolicy } from '../src/email/outbox-delivery';
import { queueMails, receiptMail } from '../src/email/outbox';
import { MailOutboxWorker } from '../src/jobs/mail-outbox.worker';
import { makeCampaign, startTestKettle, type TestKettle } from './helpers/kettle';
import { ledgerSeed } from './helpers/ledger-seed';
import { mailContext } from './helpers/mail-render';
import { addressedTo, startMailbox, type TestMailbox } from './helpers/mailbox';

// Several Kettle instances share one mail outbox. However slow the mail server, each mail is sent
// by one of them, once: a worker renews a mail's lease just before sending it, only while no other
// worker has claimed it since, and gives up on a send before that lease can run out.

let kettle: TestKettle;
let secondDatabase: DataSource;
const closers: (() => Promise<unknown> | void)[] = [];

beforeAll(async () => {
  kettle = await startTestKettle();
  // Only this file's instances send: the app's own worker stays off.
  await kettle.mailWorker.stop();
  secondDatabase = createDataSource(kettle.dbUrl, 3);
  await secondDatabase.initialize();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await secondDatabase?.destroy();
  await kettle?.close();
});

const quiet = pino({ level: 'silent' });

/** A test SMTP server, closed after the file. */
async function mailServer(opts: Parameters<typeof startMailbox>[0] = {}): Promise<TestMailbox> {
  const server = await startMailbox(opts);
  closers.push(() => server.close());
  return server;
}

/** One Kettle instance's mail delivery: its own database pool, its own SMTP connections, its own sender address. */
function instance(database: DataSource, server: TestMailbox, from: string, policy: Partial<OutboxPolicy>): OutboxDelivery {
  const mailer: Mailer = createMailer({ ...kettle.config.mail, smtpUrl: server.url, from }, kettle.baseUrl);
  closers.push(() => mailer.close());
  return new OutboxDelivery(database, mailer, mailContext(kettle), quiet, { ...DEFAULT_OUTBOX_POLICY, ...policy });
}

/** A worker as an instance runs it (polling only: the test queues before it starts). */
function workerOf(delivery: OutboxDelivery): MailOutboxWorker {
  const worker = new MailOutboxWorker(delivery, quiet, { connectionString: null, pollMs: 50 });
  closers.push(() => worker.stop());
  return worker;
}

/** Gifts by donors at these addresses, each with its receipt queued as the webhook path queues it. */
async function receiptsQueuedFor(emails: string[]): Promise<{ outboxId: string; email: string }[]> {
  const seed = ledgerSeed(kettle);
  const campaign = await makeCampaign(kettle);
  const queued = [];
  for (const email of emails) {
    const donorId = await seed.donor(email);
    const entryId = await seed.gift(campaign, donorId, 1_000, new Date().toISOString());
    await kettle.dataSource.transaction((tx) => queueMails(tx, [receiptMail(entryId, donorId)]));
    const [{ id }] = await kettle.dataSource.query(`SELECT id FROM email_outbox WHERE dedupe_key = $1`, [`receipt:${entryId}`]);
    queued.push({ outboxId: id as string, email });
  }
  return queued;
}

describe('two instances and a slow mail server', () => {
  it('send each of 20 receipts once, when one instance\'s batch takes longer than a lease', async () => {
    // Each mail is accepted 250 ms after it is read: 20 mails, 2 at a time, take 2.5 s; a lease is 1.2 s.
    const slow = await mailServer({ acceptDelayMs: 250 });
    const policy: Partial<OutboxPolicy> = { batchSize: 20, sendConcurrency: 2, leaseMs: 1_200, sendDeadlineMs: 1_000, backoffBaseMs: 60_000 };
    const first = workerOf(instance(kettle.dataSource, slow, 'giving@first.example', policy));
    const second = workerOf(instance(secondDatabase, slow, 'giving@second.example', policy));
    const queued = await receiptsQueuedFor(Array.from({ length: 20 }, (_, i) => `slow-${i}@example.org`));

    // The first instance claims the whole batch; the second starts once the first mail is in.
    first.start();
    await slow.waitFor(() => true);
    second.start();
    for (const { email } of queued) await slow.waitFor(addressedTo(email), { timeoutMs: 20_000 });
    // Stopping waits for every send under way: nothing more can arrive after this.
    await Promise.all([first.stop(), second.stop()]);

    const messageIds = slow.received.map((m) => m.messageId);
    expect(messageIds).toHaveLength(20);
    expect(new Set(messageIds)).toEqual(new Set(queued.map((q) => `<${q.outboxId}@127.0.0.1>`)));
    // The first instance's leases ran out mid-batch: the second took over the mails not yet sent.
    expect(new Set(slow.received.map((m) => m.from))).toEqual(new Set(['giving@first.example', 'giving@second.example']));
    const rows = await kettle.dataSource.query(
      `SELECT status, attempts, claim_token, locked_until FROM email_outbox WHERE id = ANY($1)`,
      [queued.map((q) => q.outboxId)],
    );
    expect(rows).toEqual(queued.map(() => ({ status: 'sent', attempts: 1, claim_token: null, locked_until: null })));
  });
});

describe('a send the server never answers', () => {
  it('is given up at its deadline, before the lease ends, as a failed try; the mail may still arrive, with the same Message-ID', async () => {
    const silent = await mailServer();
    const held = silent.holdAcceptance();
    const delivery = instance(kettle.dataSource, silent, 'giving@first.example', { leaseMs: 5_000, sendDeadlineMs: 300, backoffBaseMs: 60_000 });
    const [{ outboxId, email }] = await receiptsQueuedFor(['unanswered@example.org']);

    expect(await delivery.runBatch()).toBe(1);
    const [row] = await kettle.dataSource.query(
      `SELECT status, attempts, last_error, locked_until, claim_token, next_attempt_at > now() + interval '50 seconds' AS retried_later
         FROM email_outbox WHERE id = $1`,
      [outboxId],
    );
    expect(row).toEqual({
      status: 'pending', attempts: 1, locked_until: null, claim_token: null, retried_later: true,
      last_error: 'the mail server did not accept the mail within 300 ms; it may still arrive',
    });
    expect(silent.received).toEqual([]);

    // The server answers at last: the abandoned send arrives, under the Message-ID every try uses.
    held.release();
    const late = await silent.waitFor(addressedTo(email));
    expect(late.messageId).toBe(`<${outboxId}@127.0.0.1>`);
  });

  it('refuses a policy whose send deadline is not shorter than the lease', () => {
    expect(() => new OutboxDelivery(kettle.dataSource, {} as Mailer, mailContext(kettle), quiet, { ...DEFAULT_OUTBOX_POLICY, sendDeadlineMs: 120_000 }))
      .toThrow('a send\'s deadline must be shorter than the lease');
  });
});
