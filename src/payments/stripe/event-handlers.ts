import type { EntityManager } from 'typeorm';
import type { Logger } from '../../logger';
import type { Frequency } from '../../campaigns/campaign.entity';
import { upsertDonor } from '../../donors/donor.service';
import { recordLedgerEntry } from '../../ledger/ledger.service';
import { idOf, META_CAMPAIGN, META_CHECKOUT_INTENT, type Stripe } from './stripe-client';

export interface EventOutcome {
  status: 'processed' | 'ignored' | 'deferred';
  /** For a deferred event: the PaymentIntent whose gift must be recorded first. */
  awaiting?: string;
  /** PaymentIntents whose gifts this event recorded: deferred events waiting on them can now run. */
  recordedPaymentIntents?: string[];
  reason?: string;
}

/** What an event needs from Stripe's API, fetched before the database transaction opens. */
export interface PreparedEvent {
  invoicePaymentIntentId?: string | null;
  refunds?: Stripe.Refund[];
  /** The subscription as it is now, and when we read it: deliveries come in any order. */
  subscription?: { current: Stripe.Subscription; readAt: Date };
}

interface IntentRow {
  id: string;
  campaign_id: string;
  frequency: Frequency;
  fee_cover_amount: string;
  total_amount: string;
  email: string;
  donor_name: string | null;
  status: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const asUuid = (value: unknown): string | null => (typeof value === 'string' && UUID.test(value) ? value : null);
const at = (unixSeconds: number | null | undefined, fallback: number) => new Date((unixSeconds ?? fallback) * 1000);
const ignored = (reason: string): EventOutcome => ({ status: 'ignored', reason });
const COUNTED_REFUND_STATUSES = new Set(['succeeded', 'pending']);

/**
 * Turns verified Stripe events into Kettle's state. Every effect is keyed on Stripe ids, so
 * applying an event twice, or events in any order, leaves the same ledger (see ../shared/stripe/NOTES.md).
 */
export class StripeEventHandlers {
  constructor(private readonly stripe: Stripe, private readonly logger: Logger) {}

  async prepare(event: Stripe.Event): Promise<PreparedEvent> {
    switch (event.type) {
      case 'invoice.paid':
        return { invoicePaymentIntentId: await this.invoicePaymentIntent(event.data.object) };
      case 'customer.subscription.created':
      case 'customer.subscription.updated':
      case 'customer.subscription.deleted':
      case 'customer.subscription.paused':
      case 'customer.subscription.resumed': {
        const readAt = new Date();
        return { subscription: { current: await this.stripe.subscriptions.retrieve(event.data.object.id), readAt } };
      }
      case 'charge.refunded': {
        const refunds: Stripe.Refund[] = [];
        for await (const refund of this.stripe.refunds.list({ charge: event.data.object.id, limit: 100 })) refunds.push(refund);
        return { refunds };
      }
      default:
        return {};
    }
  }

  async apply(tx: EntityManager, event: Stripe.Event, prepared: PreparedEvent): Promise<EventOutcome> {
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded':
        return this.checkoutSessionSettled(tx, event, event.data.object);
      case 'checkout.session.async_payment_failed':
        return this.checkoutSessionClosed(tx, event.data.object, 'failed');
      case 'checkout.session.expired':
        return this.checkoutSessionClosed(tx, event.data.object, 'expired');
      case 'invoice.paid':
        return this.invoicePaid(tx, event, event.data.object, prepared.invoicePaymentIntentId ?? null);
      case 'invoice.payment_failed':
        return this.invoicePaymentFailed(tx, event, event.data.object);
      case 'customer.subscription.created':
      case 'customer.subscription.updated':
      case 'customer.subscription.deleted':
      case 'customer.subscription.paused':
      case 'customer.subscription.resumed':
        return this.subscriptionChanged(tx, prepared.subscription ?? { current: event.data.object, readAt: at(event.created, event.created) });
      case 'charge.refunded':
        return this.chargeRefunded(tx, event, event.data.object, prepared.refunds ?? []);
      case 'charge.dispute.closed':
        return this.disputeClosed(tx, event, event.data.object);
      default:
        return ignored('not an event Kettle acts on');
    }
  }

  private async checkoutSessionSettled(tx: EntityManager, event: Stripe.Event, session: Stripe.Checkout.Session): Promise<EventOutcome> {
    const intent = await this.findIntent(tx, session);
    if (!intent) return ignored('Checkout Session not created by Kettle');

    const customerId = idOf(session.customer);
    const donorId = await upsertDonor(tx, {
      email: session.customer_details?.email ?? intent.email,
      name: intent.donor_name ?? session.customer_details?.name,
      stripeCustomerId: customerId,
    });
    const paid = session.payment_status === 'paid' || session.payment_status === 'no_payment_required';
    const subscriptionId = idOf(session.subscription);
    await tx.query(
      `UPDATE checkout_intents
          SET status = CASE WHEN $2 THEN 'completed' ELSE status END,
              completed_at = CASE WHEN $2 THEN COALESCE(completed_at, $3) ELSE completed_at END,
              donor_id = COALESCE(donor_id, $4), stripe_customer_id = COALESCE(stripe_customer_id, $5),
              stripe_subscription_id = COALESCE(stripe_subscription_id, $6),
              stripe_checkout_session_id = COALESCE(stripe_checkout_session_id, $7), updated_at = now()
        WHERE id = $1`,
      [intent.id, paid, at(event.created, event.created), donorId, customerId, subscriptionId, session.id],
    );

    if (session.mode === 'subscription') {
      // The money of a recurring gift is counted on invoice.paid; here we only link the pieces.
      if (subscriptionId) await linkRecurringGift(tx, subscriptionId, { campaignId: intent.campaign_id, donorId, intentId: intent.id, customerId });
      return { status: 'processed' };
    }
    if (session.mode !== 'payment' || !paid) return { status: 'processed', reason: 'payment not settled yet' };
    if (!session.amount_total || !session.currency) return ignored('session without an amount');

    const paymentIntentId = idOf(session.payment_intent);
    const result = await recordLedgerEntry(tx, {
      kind: 'gift',
      campaignId: intent.campaign_id,
      donorId,
      amount: session.amount_total,
      currency: session.currency,
      feeCoverAmount: session.amount_total === Number(intent.total_amount) ? Number(intent.fee_cover_amount) : 0,
      source: 'stripe',
      frequency: 'once',
      checkoutIntentId: intent.id,
      stripeCheckoutSessionId: session.id,
      stripePaymentIntentId: paymentIntentId,
      occurredAt: at(event.created, event.created),
    });
    return { status: 'processed', recordedPaymentIntents: result.created && paymentIntentId ? [paymentIntentId] : [] };
  }

  private async checkoutSessionClosed(tx: EntityManager, session: Stripe.Checkout.Session, status: 'failed' | 'expired'): Promise<EventOutcome> {
    const intent = await this.findIntent(tx, session);
    if (!intent) return ignored('Checkout Session not created by Kettle');
    await tx.query(`UPDATE checkout_intents SET status = $2, updated_at = now() WHERE id = $1 AND status <> 'completed'`, [intent.id, status]);
    return { status: 'processed' };
  }

  private async invoicePaid(tx: EntityManager, event: Stripe.Event, invoice: Stripe.Invoice, paymentIntentId: string | null): Promise<EventOutcome> {
    const details = invoice.parent?.subscription_details;
    const subscriptionId = idOf(details?.subscription);
    if (!subscriptionId) return ignored('invoice without a subscription');
    if (!invoice.amount_paid || invoice.amount_paid <= 0) return ignored('nothing was paid');

    const link = await this.subscriptionLink(tx, subscriptionId, details?.metadata ?? null);
    if (!link.campaignId) return ignored('subscription not created by Kettle');

    const customerId = idOf(invoice.customer);
    const donorId = await upsertDonor(tx, {
      email: invoice.customer_email ?? link.intent?.email,
      name: link.intent?.donor_name ?? invoice.customer_name,
      stripeCustomerId: customerId,
    });
    await linkRecurringGift(tx, subscriptionId, { campaignId: link.campaignId, donorId, intentId: link.intent?.id ?? null, customerId });

    const frequency = link.intent?.frequency ?? link.frequency ?? 'monthly';
    const result = await recordLedgerEntry(tx, {
      kind: 'gift',
      campaignId: link.campaignId,
      donorId,
      amount: invoice.amount_paid,
      currency: invoice.currency,
      feeCoverAmount: link.intent && invoice.amount_paid === Number(link.intent.total_amount) ? Number(link.intent.fee_cover_amount) : 0,
      source: 'stripe',
      frequency,
      renewal: invoice.billing_reason !== 'subscription_create',
      checkoutIntentId: link.intent?.id ?? null,
      stripeInvoiceId: invoice.id,
      stripePaymentIntentId: paymentIntentId,
      stripeSubscriptionId: subscriptionId,
      occurredAt: at(invoice.status_transitions?.paid_at, event.created),
    });
    if (!paymentIntentId) this.logger.warn({ invoice: invoice.id }, 'paid invoice without a PaymentIntent: its refunds cannot be matched');
    return { status: 'processed', recordedPaymentIntents: result.created && paymentIntentId ? [paymentIntentId] : [] };
  }

  private async invoicePaymentFailed(tx: EntityManager, event: Stripe.Event, invoice: Stripe.Invoice): Promise<EventOutcome> {
    const subscriptionId = idOf(invoice.parent?.subscription_details?.subscription);
    if (!subscriptionId) return ignored('invoice without a subscription');
    const link = await this.subscriptionLink(tx, subscriptionId, invoice.parent?.subscription_details?.metadata ?? null);
    if (!link.campaignId) return ignored('subscription not created by Kettle');
    await linkRecurringGift(tx, subscriptionId, { campaignId: link.campaignId, donorId: null, intentId: link.intent?.id ?? null, customerId: idOf(invoice.customer) });
    // Runs once per event (the inbox guarantees it), so the count is the number of failed attempts seen.
    await tx.query(
      `UPDATE recurring_gifts SET failed_payment_count = failed_payment_count + 1,
              last_payment_failed_at = GREATEST(last_payment_failed_at, $2), updated_at = now()
        WHERE stripe_subscription_id = $1`,
      [subscriptionId, at(event.created, event.created)],
    );
    this.logger.info({ subscription: subscriptionId, invoice: invoice.id }, 'recurring gift payment failed');
    return { status: 'processed' };
  }

  /**
   * Stores the subscription's state as re-read from Stripe (NOTES: "subscription.updated before created;
   * a late updated after deleted"), so whichever event arrives last, the newest read wins.
   */
  private async subscriptionChanged(
    tx: EntityManager,
    { current: sub, readAt }: { current: Stripe.Subscription; readAt: Date },
  ): Promise<EventOutcome> {
    const link = await this.subscriptionLink(tx, sub.id, sub.metadata);
    if (!link.campaignId) return ignored('subscription not created by Kettle');
    const customerId = idOf(sub.customer);
    const donorId = customerId ? await upsertDonor(tx, { stripeCustomerId: customerId }) : null;
    await linkRecurringGift(tx, sub.id, { campaignId: link.campaignId, donorId, intentId: link.intent?.id ?? null, customerId });

    const item = sub.items?.data?.[0];
    // Keep the newest state read, and never revive a canceled gift.
    await tx.query(
      `UPDATE recurring_gifts
          SET status = $2, amount = COALESCE($3, amount), currency = COALESCE($4, currency), interval = COALESCE($5, interval),
              cancel_at_period_end = $6, paused = $7, current_period_end = COALESCE($8, current_period_end),
              stripe_state_at = $9, updated_at = now()
        WHERE stripe_subscription_id = $1
          AND (stripe_state_at IS NULL OR stripe_state_at <= $9)
          AND (status <> 'canceled' OR $2 = 'canceled')`,
      [sub.id, sub.status, item?.price?.unit_amount != null ? item.price.unit_amount * (item.quantity ?? 1) : null,
        item?.price?.currency ?? null, item?.price?.recurring?.interval ?? null, sub.cancel_at_period_end ?? false,
        sub.pause_collection != null, item?.current_period_end ? at(item.current_period_end, 0) : null, readAt],
    );
    return { status: 'processed' };
  }

  private async chargeRefunded(tx: EntityManager, event: Stripe.Event, charge: Stripe.Charge, refunds: Stripe.Refund[]): Promise<EventOutcome> {
    const paymentIntentId = idOf(charge.payment_intent);
    if (!paymentIntentId) return ignored('charge without a PaymentIntent');
    const gift = await findGiftByPaymentIntent(tx, paymentIntentId);
    if (!gift) return { status: 'deferred', awaiting: paymentIntentId };

    let counted = 0;
    for (const refund of refunds) {
      if (!COUNTED_REFUND_STATUSES.has(refund.status ?? '')) continue;
      counted += refund.amount;
      await recordLedgerEntry(tx, {
        kind: 'refund',
        giftEntryId: gift.id,
        amount: refund.amount,
        currency: refund.currency,
        stripeRefundId: refund.id,
        occurredAt: at(refund.created, event.created),
      });
    }
    if (counted !== charge.amount_refunded) {
      this.logger.warn({ charge: charge.id, counted, amountRefunded: charge.amount_refunded }, 'refunds listed differ from the charge\'s amount_refunded');
    }
    return { status: 'processed' };
  }

  private async disputeClosed(tx: EntityManager, event: Stripe.Event, dispute: Stripe.Dispute): Promise<EventOutcome> {
    if (dispute.status !== 'lost') return { status: 'processed', reason: `dispute ${dispute.status}` };
    let paymentIntentId = idOf(dispute.payment_intent);
    if (!paymentIntentId) {
      const charge = typeof dispute.charge === 'string' ? await this.stripe.charges.retrieve(dispute.charge) : dispute.charge;
      paymentIntentId = idOf(charge.payment_intent);
    }
    if (!paymentIntentId) return ignored('disputed charge without a PaymentIntent');
    const gift = await findGiftByPaymentIntent(tx, paymentIntentId);
    if (!gift) return { status: 'deferred', awaiting: paymentIntentId };
    await recordLedgerEntry(tx, {
      kind: 'dispute_lost',
      giftEntryId: gift.id,
      amount: dispute.amount,
      currency: dispute.currency,
      stripeDisputeId: dispute.id,
      occurredAt: at(event.created, event.created),
    });
    return { status: 'processed' };
  }

  /** Our checkout intent for a session: by the session id we stored, or the client_reference_id we sent. */
  private async findIntent(tx: EntityManager, session: Stripe.Checkout.Session): Promise<IntentRow | null> {
    const [bySession] = await tx.query(`SELECT * FROM checkout_intents WHERE stripe_checkout_session_id = $1`, [session.id]);
    if (bySession) return bySession;
    const ref = asUuid(session.client_reference_id) ?? asUuid(session.metadata?.[META_CHECKOUT_INTENT]);
    if (!ref) return null;
    const [byRef] = await tx.query(`SELECT * FROM checkout_intents WHERE id = $1`, [ref]);
    return byRef ?? null;
  }

  /** Which campaign and intent a subscription belongs to: from its metadata, or what we already linked. */
  private async subscriptionLink(tx: EntityManager, subscriptionId: string, metadata: Record<string, string> | null) {
    const [known] = await tx.query(`SELECT campaign_id, checkout_intent_id, interval FROM recurring_gifts WHERE stripe_subscription_id = $1`, [subscriptionId]);
    const intentId = asUuid(metadata?.[META_CHECKOUT_INTENT]) ?? known?.checkout_intent_id ?? null;
    const [intent]: IntentRow[] = intentId ? await tx.query(`SELECT * FROM checkout_intents WHERE id = $1`, [intentId]) : [];
    let campaignId: string | null = asUuid(metadata?.[META_CAMPAIGN]) ?? known?.campaign_id ?? intent?.campaign_id ?? null;
    if (campaignId) {
      const [exists] = await tx.query(`SELECT id FROM campaigns WHERE id = $1`, [campaignId]);
      if (!exists) campaignId = null;
    }
    const frequency: Frequency | null = known?.interval === 'year' ? 'annual' : known?.interval === 'month' ? 'monthly' : null;
    return { campaignId, intent: intent ?? null, frequency };
  }

  private async invoicePaymentIntent(invoice: Stripe.Invoice): Promise<string | null> {
    const fromPayload = invoice.payments?.data;
    const payments = fromPayload?.length ? fromPayload : (await this.stripe.invoicePayments.list({ invoice: invoice.id, limit: 10 })).data;
    const paid = payments.find((p) => p.status === 'paid') ?? payments[0];
    return paid?.payment?.type === 'payment_intent' ? idOf(paid.payment.payment_intent) : null;
  }
}

async function findGiftByPaymentIntent(tx: EntityManager, paymentIntentId: string): Promise<{ id: string } | null> {
  const [gift] = await tx.query(`SELECT id FROM ledger_entries WHERE stripe_payment_intent_id = $1 AND kind = 'gift'`, [paymentIntentId]);
  return gift ?? null;
}

/** Creates the recurring gift row if needed and fills in any link still missing; never overwrites one. */
async function linkRecurringGift(
  tx: EntityManager,
  subscriptionId: string,
  link: { campaignId: string; donorId: string | null; intentId: string | null; customerId: string | null },
) {
  await tx.query(
    `INSERT INTO recurring_gifts (stripe_subscription_id, campaign_id, donor_id, checkout_intent_id, stripe_customer_id)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (stripe_subscription_id) DO UPDATE
        SET campaign_id = COALESCE(recurring_gifts.campaign_id, EXCLUDED.campaign_id),
            donor_id = COALESCE(recurring_gifts.donor_id, EXCLUDED.donor_id),
            checkout_intent_id = COALESCE(recurring_gifts.checkout_intent_id, EXCLUDED.checkout_intent_id),
            stripe_customer_id = COALESCE(recurring_gifts.stripe_customer_id, EXCLUDED.stripe_customer_id)`,
    [subscriptionId, link.campaignId, link.donorId, link.intentId, link.customerId],
  );
}
