import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountLinks } from '../src/account/links';
import type { Campaign } from '../src/campaigns/campaign.entity';
import { LedgerEntry } from '../src/ledger/ledger-entry.entity';
import { deliverEvent, donateAndPay, postEvent, undeliveredEventsOf, withAppWorkerStopped } from './helpers/flows';
import { makeCampaign, startTestKettle, totalsOf, type TestKettle } from './helpers/kettle';
import { addressedTo, type ReceivedMail, type TestMailbox } from './helpers/mailbox';

// Receipts and refund notices, received through a real SMTP server as the donor's mail server would.

let kettle: TestKettle;
let mailbox: TestMailbox;

beforeAll(async () => {
  kettle = await startTestKettle({ mailbox: true });
  mailbox = kettle.mailbox!;
});
afterAll(() => kettle?.close());

const LONG_DATE = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'UTC' });

const giftsOf = (campaign: Campaign) =>
  kettle.dataSource.getRepository(LedgerEntry).find({ where: { campaignId: campaign.id, kind: 'gift' }, order: { occurredAt: 'ASC' } });

const receiptsTo = (email: string) => mailbox.matching(addressedTo(email, /Receipt/));

const subscriptionOf = async (sessionId: string) => (await kettle.stripe.checkout.sessions.retrieve(sessionId)).subscription as string;

/** The donor a manage link signs in, if its signature holds. */
function donorOfManageLink(mail: ReceivedMail): string | null {
  const prefix = `${kettle.baseUrl}/account/manage/`;
  const link = mail.links.find((l) => l.startsWith(prefix));
  if (!link) return null;
  const checked = new AccountLinks(kettle.baseUrl, kettle.config.sessionSecret).checkManageToken(link.slice(prefix.length));
  return checked.ok ? checked.value.donorId : null;
}

describe('a receipt for every counted gift', () => {
  it('mails a one-off gift\'s receipt: amount, date, campaign, reference, legal name, tax id, the no-goods line, dedication and a manage link', async () => {
    const campaign = await makeCampaign(kettle, { title: 'Keep the Evening Paper' });
    await donateAndPay(kettle, campaign, { amount: '37', email: 'ada@example.org', name: 'Ada Lovelace', dedication: 'In memory of Charles' });
    const mail = await mailbox.waitFor(addressedTo('ada@example.org', /Receipt/));
    const [gift] = await giftsOf(campaign);

    expect(mail.subject).toBe('Receipt for your gift of $37.00 to Test Newsroom');
    for (const part of [mail.text, mail.html]) {
      expect(part).toContain('Dear Ada Lovelace,');
      expect(part).toContain('$37.00');
      expect(part).toContain(LONG_DATE.format(gift.occurredAt));
      expect(part).toContain('Keep the Evening Paper');
      expect(part).toContain('One-off gift');
      expect(part).toContain(gift.id.replace(/-/g, '').slice(0, 8).toUpperCase());
      expect(part).toContain('Test Newsroom Foundation Inc.');
      expect(part).toContain('Tax ID 12-3456789');
      expect(part).toContain('No goods or services were provided in exchange for this contribution.');
      expect(part).toContain('In memory of Charles');
    }
    expect(donorOfManageLink(mail)).toBe(gift.donorId);
    // After the manage link's 60 days, the way to a new one.
    expect(mail.links).toContain(`${kettle.baseUrl}/account/sign-in`);
    expect(mail.from).toBe('giving@localhost');
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');

    const [row] = await kettle.dataSource.query(`SELECT id, status, subject, attempts FROM email_outbox WHERE dedupe_key = $1`, [`receipt:${gift.id}`]);
    expect(row).toMatchObject({ status: 'sent', subject: mail.subject, attempts: 1 });
    expect(mail.messageId).toBe(`<${row.id}@127.0.0.1>`);
  });

  it('states the part that covered fees', async () => {
    const campaign = await makeCampaign(kettle);
    await donateAndPay(kettle, campaign, { amount: '20', email: 'fees@example.org', cover_fees: 'on' });
    const mail = await mailbox.waitFor(addressedTo('fees@example.org', /Receipt/));
    // 20.00 grossed up for 2.9% + 0.30: 20.91 charged, 0.91 of it for the fees.
    expect(mail.subject).toBe('Receipt for your gift of $20.91 to Test Newsroom');
    expect(mail.text).toContain('(including $0.91 to cover fees)');
  });

  it('escapes what a donor typed in the HTML part, and keeps it as typed in the plain-text part', async () => {
    const campaign = await makeCampaign(kettle);
    const typed = { name: '<script>alert("name")</script>', comment: '<img src=x onerror=alert(1)>', dedication: '<b>Grandma</b> & "co"' };
    await donateAndPay(kettle, campaign, { amount: '12', email: 'script@example.org', ...typed });
    const mail = await mailbox.waitFor(addressedTo('script@example.org', /Receipt/));

    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('<img');
    expect(mail.html).not.toContain('<b>Grandma');
    expect(mail.html).toContain('Dear &lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;,');
    expect(mail.html).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    expect(mail.html).toContain('&lt;b&gt;Grandma&lt;/b&gt; &amp; &quot;co&quot;');

    expect(mail.text).toContain(`Dear ${typed.name},`);
    expect(mail.text).toContain(`Your message: ${typed.comment}`);
    expect(mail.text).toContain(`Dedication: ${typed.dedication}`);
  });

  it('mails a receipt for the first payment of a monthly gift, and one for every renewal', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '10', frequency: 'monthly', email: 'monthly@example.org' });
    const first = await mailbox.waitFor(addressedTo('monthly@example.org', /Receipt/));
    expect(first.subject).toBe('Receipt for your gift of $10.00 to Test Newsroom');
    expect(first.text).toContain('Monthly gift (first payment)');

    await kettle.emulator.advanceSubscription(await subscriptionOf(sessionId));
    await kettle.settled();
    const receipts = receiptsTo('monthly@example.org');
    expect(receipts).toHaveLength(2);
    expect(receipts[1].text).toContain('Monthly gift (renewal)');
    const gifts = await giftsOf(campaign);
    expect(receipts.map((r) => r.text.includes(gifts[1].id.replace(/-/g, '').slice(0, 8).toUpperCase()))).toEqual([false, true]);
  });

  it('sends each receipt once, however often Stripe delivers the events again', async () => {
    const campaign = await makeCampaign(kettle);
    const from = kettle.emulator.events.length;
    await donateAndPay(kettle, campaign, { amount: '25', email: 'replay-once@example.org' });
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '15', frequency: 'annual', email: 'replay-annual@example.org' });
    await kettle.emulator.advanceSubscription(await subscriptionOf(sessionId));
    await kettle.settled();
    const events = kettle.emulator.events.slice(from);
    expect(receiptsTo('replay-once@example.org')).toHaveLength(1);
    expect(receiptsTo('replay-annual@example.org')).toHaveLength(2);

    for (const event of [...events, ...events]) expect((await deliverEvent(kettle, event)).status).toBe(200);
    await kettle.settled();
    expect(receiptsTo('replay-once@example.org')).toHaveLength(1);
    expect(receiptsTo('replay-annual@example.org')).toHaveLength(2);
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 2500 + 1500 + 1500, gifts: 3, donors: 2 });
  });

  it('mails a receipt for each gift of a batch applied together, set-based', async () => {
    const campaign = await makeCampaign(kettle);
    const emails = ['batch-1@example.org', 'batch-2@example.org', 'batch-3@example.org'];
    const events = await undeliveredEventsOf(kettle, async () => {
      for (const email of emails) await donateAndPay(kettle, campaign, { amount: '5', email });
    });
    kettle.emulator.setAutoDeliver(true);
    // Stored while no worker runs, so one batch applies all three together.
    await withAppWorkerStopped(kettle, async () => {
      for (const event of events) expect((await postEvent(kettle.app, event)).status).toBe(200);
    });
    await kettle.settled();
    expect((await totalsOf(kettle, campaign.id)).kept).toEqual({ raised: 1500, gifts: 3, donors: 3 });
    for (const email of emails) expect(receiptsTo(email)).toHaveLength(1);
  });
});

describe('refund notices', () => {
  it('tells the donor what was returned and what the gift now counts as, once per refund', async () => {
    const campaign = await makeCampaign(kettle, { title: 'Local Courts Desk' });
    const from = kettle.emulator.events.length;
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '50', email: 'refunded@example.org', name: 'Rae' });
    const paymentIntent = (await kettle.stripe.checkout.sessions.retrieve(sessionId)).payment_intent as string;

    await kettle.stripe.refunds.create({ payment_intent: paymentIntent, amount: 1500 });
    await kettle.settled();
    const partial = await mailbox.waitFor(addressedTo('refunded@example.org', /Refund/));
    expect(partial.subject).toBe('Refund of $15.00 from Test Newsroom');
    expect(partial.text).toContain('We have refunded $15.00 of your gift of $50.00 to Local Courts Desk');
    expect(partial.text).toContain('Your gift now counts as $35.00, after refunds of $15.00 in all.');
    expect(partial.html).toContain('Your gift now counts as <strong>$35.00</strong>, after refunds of $15.00 in all.');

    await kettle.stripe.refunds.create({ payment_intent: paymentIntent });
    await kettle.settled();
    const notices = mailbox.matching(addressedTo('refunded@example.org', /Refund/));
    expect(notices.map((n) => n.subject)).toEqual(['Refund of $15.00 from Test Newsroom', 'Refund of $35.00 from Test Newsroom']);
    expect(notices[1].text).toContain('Your gift has been refunded in full');

    for (const event of kettle.emulator.events.slice(from)) await deliverEvent(kettle, event);
    await kettle.settled();
    expect(mailbox.matching(addressedTo('refunded@example.org', /Refund/))).toHaveLength(2);
    expect(receiptsTo('refunded@example.org')).toHaveLength(1);
  });

  /** A $100 gift by this donor, and its PaymentIntent for refunds. */
  async function giveHundred(email: string) {
    const { sessionId } = await donateAndPay(kettle, await makeCampaign(kettle), { amount: '100', email });
    return (await kettle.stripe.checkout.sessions.retrieve(sessionId)).payment_intent as string;
  }

  const refundNoticesTo = (email: string) =>
    mailbox.matching(addressedTo(email, /Refund/)).map((n) => ({ subject: n.subject, net: /Your gift now counts as [^\n]*/.exec(n.text)?.[0] }));

  it('states the same net in each notice of two refunds recorded by one event: the gift as it now stands', async () => {
    const paymentIntent = await giveHundred('one-event@example.org');
    // Both refunds are made before Stripe's first event about them arrives: applying that event
    // records both (their refund times share a second, their entries a transaction).
    const events = await undeliveredEventsOf(kettle, async () => {
      await kettle.stripe.refunds.create({ payment_intent: paymentIntent, amount: 1000 });
      await kettle.stripe.refunds.create({ payment_intent: paymentIntent, amount: 2000 });
    });
    kettle.emulator.setAutoDeliver(true);
    await deliverEvent(kettle, events[0]);
    await kettle.settled();

    const after = 'Your gift now counts as $70.00, after refunds of $30.00 in all.';
    expect(refundNoticesTo('one-event@example.org').sort((a, b) => a.subject.localeCompare(b.subject))).toEqual([
      { subject: 'Refund of $10.00 from Test Newsroom', net: after },
      { subject: 'Refund of $20.00 from Test Newsroom', net: after },
    ]);

    for (const event of events) await deliverEvent(kettle, event);
    await kettle.settled();
    expect(refundNoticesTo('one-event@example.org')).toHaveLength(2);
  });

  it('states the net after each refund when they come by separate events, each notice sent before the next refund', async () => {
    const paymentIntent = await giveHundred('two-events@example.org');
    await kettle.stripe.refunds.create({ payment_intent: paymentIntent, amount: 1000 });
    await kettle.settled();
    await kettle.stripe.refunds.create({ payment_intent: paymentIntent, amount: 2000 });
    await kettle.settled();
    expect(refundNoticesTo('two-events@example.org')).toEqual([
      { subject: 'Refund of $10.00 from Test Newsroom', net: 'Your gift now counts as $90.00, after refunds of $10.00 in all.' },
      { subject: 'Refund of $20.00 from Test Newsroom', net: 'Your gift now counts as $70.00, after refunds of $30.00 in all.' },
    ]);
  });

  it('states the net as it stands when the notice goes out, when a second refund came first', async () => {
    const paymentIntent = await giveHundred('late-notice@example.org');
    await kettle.mailWorker.stop();
    try {
      await kettle.stripe.refunds.create({ payment_intent: paymentIntent, amount: 1000 });
      await kettle.emulator.idle();
      await kettle.webhookWorker.drain();
      await kettle.stripe.refunds.create({ payment_intent: paymentIntent, amount: 2000 });
      await kettle.emulator.idle();
      await kettle.webhookWorker.drain();
    } finally {
      kettle.mailWorker.start();
    }
    await kettle.settled();
    expect(refundNoticesTo('late-notice@example.org').map((n) => n.net)).toEqual([
      'Your gift now counts as $70.00, after refunds of $30.00 in all.',
      'Your gift now counts as $70.00, after refunds of $30.00 in all.',
    ]);
  });

  it('sends no refund notice for a lost dispute', async () => {
    const campaign = await makeCampaign(kettle);
    const { sessionId } = await donateAndPay(kettle, campaign, { amount: '30', email: 'disputed@example.org' });
    const pi = await kettle.stripe.paymentIntents.retrieve((await kettle.stripe.checkout.sessions.retrieve(sessionId)).payment_intent as string);
    await kettle.emulator.disputeCharge(pi.latest_charge as string, 'lost');
    await kettle.settled();
    expect((await totalsOf(kettle, campaign.id)).kept.raised).toBe(0);
    expect(mailbox.matching(addressedTo('disputed@example.org')).map((m) => m.subject)).toEqual(['Receipt for your gift of $30.00 to Test Newsroom']);
  });
});
