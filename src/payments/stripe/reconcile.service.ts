import type { DataSource } from 'typeorm';
import type { Logger } from '../../logger';
import { idOf, META_CAMPAIGN, META_CHECKOUT_INTENT, type Stripe } from './stripe-client';

/** The event types Kettle acts on (event-handlers.ts). Stripe's events.list takes at most 20 per call. */
export const RECONCILED_EVENT_TYPES = [
  'checkout.session.completed', 'checkout.session.async_payment_succeeded', 'checkout.session.async_payment_failed',
  'checkout.session.expired', 'invoice.paid', 'invoice.payment_failed',
  'customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted',
  'customer.subscription.paused', 'customer.subscription.resumed',
  'charge.refunded', 'charge.refund.updated', 'refund.created', 'refund.updated', 'refund.failed',
  'charge.dispute.closed',
] as const;
const TYPES_PER_CALL = 20;

/** How far back events.list reaches; older history is read from the objects themselves. */
export const EVENTS_RETENTION_MS = 30 * 86_400_000;
/** Events this close to the 30-day edge may vanish while we page: the object listing covers them. */
const EDGE_MARGIN_MS = 10 * 60_000;

/** Marks an event Kettle built from an object because Stripe no longer lists the event itself. */
export const SYNTHESISED_MARK = 'kettle_synthesised_from';

/** The one way into the inbox, shared with the webhook route: stores the event idempotently. */
export interface EventInbox {
  receive(event: Stripe.Event): Promise<unknown>;
}

export interface ReconcileOptions {
  since: Date;
  /** Only events Stripe has not delivered successfully (events.list `delivery_success=false`). */
  onlyUndelivered?: boolean;
  /** The clock, for tests that look at the past beyond 30 days. */
  now?: Date;
}

export interface ReconcileSummary {
  since: Date;
  /** Events (and, beyond 30 days, objects turned into events: sessions, invoices, refunds, disputes) Stripe listed. */
  eventsSeen: number;
  newlyStored: number;
  alreadyKnown: number;
  /** Of the newly stored: events built from objects older than events.list reaches. */
  synthesised: number;
}

/**
 * Finds what Stripe knows and the webhook inbox lacks, and stores it through the webhook path
 * (receive), so a lost delivery is applied exactly as a late one would be. Idempotent: an event
 * already in the inbox is counted as known and left alone.
 */
export class ReconcileService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly stripe: Stripe,
    private readonly inbox: EventInbox,
    private readonly logger: Logger,
  ) {}

  async reconcile(opts: ReconcileOptions): Promise<ReconcileSummary> {
    const now = opts.now ?? new Date();
    const summary: ReconcileSummary = { since: opts.since, eventsSeen: 0, newlyStored: 0, alreadyKnown: 0, synthesised: 0 };
    const eventsFrom = new Date(Math.max(opts.since.getTime(), now.getTime() - EVENTS_RETENTION_MS + EDGE_MARGIN_MS));
    const readsObjects = opts.since < eventsFrom;
    // Objects whose events we saw: their synthesised twin would only repeat what the real event says.
    const coveredObjects = new Set<string>();

    for (let i = 0; i < RECONCILED_EVENT_TYPES.length; i += TYPES_PER_CALL) {
      const pages = this.stripe.events.list({
        created: { gte: toUnix(eventsFrom) },
        types: RECONCILED_EVENT_TYPES.slice(i, i + TYPES_PER_CALL),
        ...(opts.onlyUndelivered && { delivery_success: false }),
        limit: 100,
      });
      await this.storeInBatches(pages, summary, { synthesised: false, onListed: readsObjects ? (event) => coveredObjects.add(aboutKey(event)) : undefined });
    }

    if (readsObjects) {
      const range = { gte: toUnix(opts.since), lt: toUnix(eventsFrom) };
      const notCovered = async function* (source: AsyncIterable<Stripe.Event>) {
        for await (const event of source) if (!coveredObjects.has(aboutKey(event))) yield event;
      };
      const isKettles = this.kettlePaymentIntents();
      for (const source of [this.sessionEvents(range), this.invoiceEvents(range), this.refundEvents(range, isKettles), this.disputeEvents(range, isKettles)]) {
        await this.storeInBatches(notCovered(source), summary, { synthesised: true });
      }
    }
    this.logger.info({ ...summary, since: summary.since.toISOString() }, 'reconciled Stripe events with the webhook inbox');
    return summary;
  }

  /** Checks a page of events against the inbox in one query and stores the missing ones, oldest first. */
  private async storeInBatches(
    source: AsyncIterable<Stripe.Event>,
    summary: ReconcileSummary,
    { synthesised, onListed }: { synthesised: boolean; onListed?: (event: Stripe.Event) => void },
  ): Promise<void> {
    let batch: Stripe.Event[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const known = await this.knownIds(batch.map((e) => e.id));
      const missing = batch.filter((e) => !known.has(e.id)).sort((a, b) => a.created - b.created);
      summary.eventsSeen += batch.length;
      summary.alreadyKnown += batch.length - missing.length;
      for (const event of missing) {
        await this.store(event);
        summary.newlyStored += 1;
        if (synthesised) summary.synthesised += 1;
      }
      batch = [];
    };
    for await (const event of source) {
      onListed?.(event);
      batch.push(event);
      if (batch.length >= 100) await flush();
    }
    await flush();
  }

  /**
   * While receive() also applies the event, applying can fail after the event was stored: the
   * inbox's retry owns it from there, and the other missing events must still be stored.
   */
  private async store(event: Stripe.Event): Promise<void> {
    try {
      await this.inbox.receive(event);
    } catch (err) {
      if (!(await this.knownIds([event.id])).has(event.id)) throw err;
      this.logger.warn({ event: event.id, err }, 'reconciled event stored but not applied yet; the inbox will retry it');
    }
  }

  private async knownIds(ids: string[]): Promise<Set<string>> {
    const rows: { id: string }[] = await this.dataSource.query(`SELECT id FROM stripe_events WHERE id = ANY($1)`, [ids]);
    return new Set(rows.map((r) => r.id));
  }

  /** Kettle's sessions, as the event that closed each: completed (payment time) or expired. */
  private async *sessionEvents(created: { gte: number; lt: number }): AsyncIterable<Stripe.Event> {
    const sessions = this.stripe.checkout.sessions.list({ created, limit: 100, expand: ['data.payment_intent'] });
    for await (const session of sessions) {
      if (!isKettleSession(session)) continue;
      if (session.status === 'complete') {
        const paymentIntent = session.payment_intent;
        // A one-off gift is dated when it was paid (the PaymentIntent is created at confirmation), as its event would be.
        const at = paymentIntent && typeof paymentIntent === 'object' ? paymentIntent.created : session.created;
        yield synthesisedEvent(session, 'checkout.session.completed', at, { ...session, payment_intent: idOf(paymentIntent) });
      } else if (session.status === 'expired') {
        yield synthesisedEvent(session, 'checkout.session.expired', session.expires_at, { ...session, payment_intent: idOf(session.payment_intent) });
      }
    }
  }

  /** Paid invoices of Kettle's subscriptions: each is one recurring gift (invoice.paid). */
  private async *invoiceEvents(created: { gte: number; lt: number }): AsyncIterable<Stripe.Event> {
    for await (const invoice of this.stripe.invoices.list({ created, status: 'paid', limit: 100 })) {
      if (!isKettleInvoice(invoice)) continue;
      yield synthesisedEvent(invoice, 'invoice.paid', invoice.status_transitions?.paid_at ?? invoice.created, invoice);
    }
  }

  /** Refunds of Kettle's payments. Applying one re-reads every refund of its charge, as a refund event does. */
  private async *refundEvents(created: { gte: number; lt: number }, isKettles: PaymentIntentCheck): AsyncIterable<Stripe.Event> {
    for await (const refund of this.stripe.refunds.list({ created, limit: 100 })) {
      if (await isKettles(idOf(refund.payment_intent))) yield synthesisedEvent(refund, 'refund.created', refund.created, refund);
    }
  }

  /**
   * Closed disputes of Kettle's payments; a lost one takes the gift back. Stripe keeps no closing
   * time on a dispute, so the synthesised event is dated when the dispute opened.
   */
  private async *disputeEvents(created: { gte: number; lt: number }, isKettles: PaymentIntentCheck): AsyncIterable<Stripe.Event> {
    for await (const dispute of this.stripe.disputes.list({ created, limit: 100 })) {
      if (dispute.status !== 'won' && dispute.status !== 'lost') continue;
      if (await isKettles(idOf(dispute.payment_intent))) yield synthesisedEvent(dispute, 'charge.dispute.closed', dispute.created, dispute);
    }
  }

  /**
   * Whether a PaymentIntent paid one of Kettle's sessions or subscription invoices, asked of Stripe
   * (the ledger may not have applied the gift yet), once per PaymentIntent per run.
   */
  private kettlePaymentIntents(): PaymentIntentCheck {
    const known = new Map<string, Promise<boolean>>();
    const paidKettle = async (paymentIntentId: string) => {
      const { data: [session] } = await this.stripe.checkout.sessions.list({ payment_intent: paymentIntentId, limit: 1 });
      if (session) return isKettleSession(session);
      const { data: [payment] } = await this.stripe.invoicePayments.list({ payment: { type: 'payment_intent', payment_intent: paymentIntentId }, limit: 1 });
      const invoiceId = idOf(payment?.invoice);
      return invoiceId ? isKettleInvoice(await this.stripe.invoices.retrieve(invoiceId)) : false;
    };
    return (paymentIntentId) => {
      if (!paymentIntentId) return Promise.resolve(false);
      if (!known.has(paymentIntentId)) known.set(paymentIntentId, paidKettle(paymentIntentId));
      return known.get(paymentIntentId)!;
    };
  }
}

type PaymentIntentCheck = (paymentIntentId: string | null) => Promise<boolean>;

const isKettleSession = (session: Stripe.Checkout.Session) => Boolean(session.metadata?.[META_CHECKOUT_INTENT] || session.client_reference_id);

function isKettleInvoice(invoice: Stripe.Invoice): boolean {
  const metadata = invoice.parent?.subscription_details?.metadata;
  return Boolean(metadata?.[META_CAMPAIGN] || metadata?.[META_CHECKOUT_INTENT]);
}

/**
 * The event Stripe would have sent about `object`, under a deterministic id so a second
 * reconcile finds it stored. Marked, so nobody mistakes it for one Stripe signed.
 */
function synthesisedEvent(object: { id: string; livemode?: boolean }, type: string, created: number, payload: object): Stripe.Event {
  return {
    id: `recon_${object.id}_${type}`,
    object: 'event',
    type,
    created,
    // A refund does not say which mode it is in: unknown rather than a guess.
    livemode: object.livemode ?? null,
    api_version: null,
    pending_webhooks: 0,
    request: { id: null, idempotency_key: null },
    data: { object: payload },
    [SYNTHESISED_MARK]: object.id,
  } as unknown as Stripe.Event;
}

/** An event's type and the Stripe object it is about: what a real and a synthesised event share. */
function aboutKey(event: Stripe.Event): string {
  return `${(event.data.object as { id?: string }).id}:${event.type}`;
}

function toUnix(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

export class LookbackError extends Error {}

/** Parses a look-back like 30m, 72h or 7d into milliseconds. */
export function parseLookback(value: string): number {
  const match = /^(\d{1,6})([mhd])$/.exec(value.trim());
  const amount = match ? Number(match[1]) : 0;
  if (!match || amount === 0) {
    throw new LookbackError(`--since must be a positive duration in minutes, hours or days, like 30m, 72h or 7d (got "${value}")`);
  }
  return amount * { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'm' | 'h' | 'd'];
}
