import type { EntityManager } from 'typeorm';
import type { Logger } from '../../logger';
import type { Frequency } from '../../campaigns/campaign.entity';
import { Campaign } from '../../campaigns/campaign.entity';
import type { CheckoutIntent } from '../../donations/checkout-intent.entity';
import { asUuid, findIntent, findIntentForSession, markIntentClosed, markIntentSettled } from '../../donations/checkout-intent.service';
import {
  findRecurringGift, frequencyOfInterval, linkRecurringGift, recordFailedPayment, recordSubscriptionState,
} from '../../donations/recurring-gift.service';
import { upsertDonor } from '../../donors/donor.service';
import { findGiftByPaymentIntent, recordLedgerEntry } from '../../ledger/ledger.service';
import { idOf, META_CAMPAIGN, META_CHECKOUT_INTENT, type Stripe } from './stripe-client';

export interface EventOutcome {
  status: 'processed' | 'ignored' | 'deferred';
  /** For a deferred event: the PaymentIntent whose gift must be recorded first. */
  awaiting?: string;
  /** PaymentIntents whose gifts this event recorded: deferred events waiting on them can now run. */
  recordedPaymentIntents?: string[];
  reason?: string;
}

/** What an event needs from Stripe's API, read before the database transaction opens. */
export interface PreparedEvent {
  invoicePaymentIntentId?: string | null;
  /** Every refund of the charge, as Stripe has them now. */
  refunds?: { chargeId: string; paymentIntentId: string | null; amountRefunded: number | null; list: Stripe.Refund[] };
  /** The subscription as it is now, and when we read it: deliveries come in any order. */
  subscription?: { current: Stripe.Subscription; readAt: Date };
  disputedPaymentIntentId?: string | null;
}

const SUBSCRIPTION_EVENTS = new Set([
  'customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted',
  'customer.subscription.paused', 'customer.subscription.resumed',
]);
const REFUND_EVENTS = new Set(['charge.refunded', 'charge.refund.updated', 'refund.created', 'refund.updated', 'refund.failed']);

const secondsToDate = (unixSeconds: number) => new Date(unixSeconds * 1000);
const ignored = (reason: string): EventOutcome => ({ status: 'ignored', reason });

/**
 * Turns verified Stripe events into Kettle's state (counting rules: ../shared/stripe/NOTES.md).
 * Every effect is keyed on Stripe ids, so applying an event twice, or events in any order,
 * leaves the same ledger. Reads from Stripe happen in prepare(), outside the transaction.
 */
export class StripeEventHandlers {
  constructor(private readonly stripe: Stripe, private readonly logger: Logger) {}

  async prepare(event: Stripe.Event): Promise<PreparedEvent> {
    if (SUBSCRIPTION_EVENTS.has(event.type)) {
      const sub = event.data.object as Stripe.Subscription;
      const readAt = new Date();
      return { subscription: { current: await this.stripe.subscriptions.retrieve(sub.id), readAt } };
    }
    if (REFUND_EVENTS.has(event.type)) {
      const object = event.data.object as Stripe.Charge | Stripe.Refund;
      const chargeId = object.object === 'charge' ? object.id : idOf(object.charge);
      if (!chargeId) return {};
      const charge = object.object === 'charge' ? object : await this.stripe.charges.retrieve(chargeId);
      const list: Stripe.Refund[] = [];
      for await (const refund of this.stripe.refunds.list({ charge: chargeId, limit: 100 })) list.push(refund);
      return { refunds: { chargeId, paymentIntentId: idOf(charge.payment_intent), amountRefunded: charge.amount_refunded, list } };
    }
    switch (event.type) {
      case 'invoice.paid':
        return { invoicePaymentIntentId: await this.invoicePaymentIntent(event.data.object) };
      case 'charge.dispute.closed': {
        const dispute = event.data.object;
        if (dispute.status !== 'lost' || dispute.payment_intent) return {};
        const charge = typeof dispute.charge === 'string' ? await this.stripe.charges.retrieve(dispute.charge) : dispute.charge;
        return { disputedPaymentIntentId: idOf(charge.payment_intent) };
      }
      default:
        return {};
    }
  }

  async apply(tx: EntityManager, event: Stripe.Event, prepared: PreparedEvent): Promise<EventOutcome> {
    if (SUBSCRIPTION_EVENTS.has(event.type)) {
      return this.subscriptionChanged(tx, prepared.subscription ?? { current: event.data.object as Stripe.Subscription, readAt: secondsToDate(event.created) });
    }
    if (REFUND_EVENTS.has(event.type)) return this.refundsChanged(tx, prepared.refunds);
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
      case 'charge.dispute.closed':
        return this.disputeClosed(tx, event, event.data.object, prepared.disputedPaymentIntentId ?? null);
      default:
        return ignored('not an event Kettle acts on');
    }
  }

  private async checkoutSessionSettled(tx: EntityManager, event: Stripe.Event, session: Stripe.Checkout.Session): Promise<EventOutcome> {
    const intent = await findIntentForSession(tx, { id: session.id, reference: session.client_reference_id ?? session.metadata?.[META_CHECKOUT_INTENT] ?? null });
    if (!intent) return ignored('Checkout Session not created by Kettle');

    const customerId = idOf(session.customer);
    const donorId = await upsertDonor(tx, {
      email: session.customer_details?.email ?? intent.email,
      name: intent.donorName ?? session.customer_details?.name,
      stripeCustomerId: customerId,
    });
    const paid = session.payment_status === 'paid' || session.payment_status === 'no_payment_required';
    const subscriptionId = idOf(session.subscription);
    await markIntentSettled(tx, intent.id, { paid, at: secondsToDate(event.created), donorId, customerId, subscriptionId, sessionId: session.id });

    if (session.mode === 'subscription') {
      // The money of a recurring gift is counted on invoice.paid; here we only link the pieces.
      if (subscriptionId) await linkRecurringGift(tx, subscriptionId, { campaignId: intent.campaignId, donorId, intentId: intent.id, customerId });
      return { status: 'processed' };
    }
    if (session.mode !== 'payment' || !paid) return { status: 'processed', reason: 'payment not settled yet' };
    if (!session.amount_total || !session.currency) return ignored('session without an amount');

    const paymentIntentId = idOf(session.payment_intent);
    const result = await recordLedgerEntry(tx, {
      kind: 'gift',
      campaignId: intent.campaignId,
      donorId,
      amount: session.amount_total,
      currency: session.currency,
      feeCoverAmount: feeCoverOf(intent, session.amount_total),
      source: 'stripe',
      frequency: 'once',
      checkoutIntentId: intent.id,
      stripeCheckoutSessionId: session.id,
      stripePaymentIntentId: paymentIntentId,
      occurredAt: secondsToDate(event.created),
    });
    return { status: 'processed', recordedPaymentIntents: result.created && paymentIntentId ? [paymentIntentId] : [] };
  }

  private async checkoutSessionClosed(tx: EntityManager, session: Stripe.Checkout.Session, status: 'failed' | 'expired'): Promise<EventOutcome> {
    const intent = await findIntentForSession(tx, { id: session.id, reference: session.client_reference_id ?? null });
    if (!intent) return ignored('Checkout Session not created by Kettle');
    await markIntentClosed(tx, intent.id, status);
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
      name: link.intent?.donorName ?? invoice.customer_name,
      stripeCustomerId: customerId,
    });
    await linkRecurringGift(tx, subscriptionId, { campaignId: link.campaignId, donorId, intentId: link.intent?.id ?? null, customerId });

    const result = await recordLedgerEntry(tx, {
      kind: 'gift',
      campaignId: link.campaignId,
      donorId,
      amount: invoice.amount_paid,
      currency: invoice.currency,
      feeCoverAmount: link.intent ? feeCoverOf(link.intent, invoice.amount_paid) : 0,
      source: 'stripe',
      frequency: link.intent?.frequency ?? link.frequency ?? 'monthly',
      renewal: invoice.billing_reason !== 'subscription_create',
      checkoutIntentId: link.intent?.id ?? null,
      stripeInvoiceId: invoice.id,
      stripePaymentIntentId: paymentIntentId,
      stripeSubscriptionId: subscriptionId,
      occurredAt: secondsToDate(invoice.status_transitions?.paid_at ?? event.created),
    });
    if (!paymentIntentId) this.logger.warn({ invoice: invoice.id }, 'paid invoice without a PaymentIntent: its refunds cannot be matched');
    return { status: 'processed', recordedPaymentIntents: result.created && paymentIntentId ? [paymentIntentId] : [] };
  }

  private async invoicePaymentFailed(tx: EntityManager, event: Stripe.Event, invoice: Stripe.Invoice): Promise<EventOutcome> {
    const details = invoice.parent?.subscription_details;
    const subscriptionId = idOf(details?.subscription);
    if (!subscriptionId) return ignored('invoice without a subscription');
    const link = await this.subscriptionLink(tx, subscriptionId, details?.metadata ?? null);
    if (!link.campaignId) return ignored('subscription not created by Kettle');
    await linkRecurringGift(tx, subscriptionId, { campaignId: link.campaignId, donorId: null, intentId: link.intent?.id ?? null, customerId: idOf(invoice.customer) });
    await recordFailedPayment(tx, subscriptionId, secondsToDate(event.created));
    this.logger.info({ subscription: subscriptionId, invoice: invoice.id }, 'recurring gift payment failed');
    return { status: 'processed' };
  }

  private async subscriptionChanged(tx: EntityManager, { current: sub, readAt }: { current: Stripe.Subscription; readAt: Date }): Promise<EventOutcome> {
    const link = await this.subscriptionLink(tx, sub.id, sub.metadata);
    if (!link.campaignId) return ignored('subscription not created by Kettle');
    const customerId = idOf(sub.customer);
    const donorId = customerId ? await upsertDonor(tx, { stripeCustomerId: customerId }) : null;
    await linkRecurringGift(tx, sub.id, { campaignId: link.campaignId, donorId, intentId: link.intent?.id ?? null, customerId });

    const item = sub.items?.data?.[0];
    await recordSubscriptionState(tx, sub.id, {
      status: sub.status,
      amount: item?.price?.unit_amount != null ? item.price.unit_amount * (item.quantity ?? 1) : null,
      currency: item?.price?.currency ?? null,
      interval: item?.price?.recurring?.interval ?? null,
      cancelAtPeriodEnd: sub.cancel_at_period_end ?? false,
      paused: sub.pause_collection != null,
      currentPeriodEnd: item?.current_period_end ? secondsToDate(item.current_period_end) : null,
      readAt,
    });
    return { status: 'processed' };
  }

  /**
   * Records every succeeded refund of a charge, each keyed on its refund id. A pending refund
   * counts once a later refund or charge event finds it succeeded.
   */
  private async refundsChanged(tx: EntityManager, refunds: PreparedEvent['refunds']): Promise<EventOutcome> {
    if (!refunds?.paymentIntentId) return ignored('refund of a charge without a PaymentIntent');
    const gift = await findGiftByPaymentIntent(tx, refunds.paymentIntentId);
    if (!gift) return { status: 'deferred', awaiting: refunds.paymentIntentId };

    let counted = 0;
    for (const refund of refunds.list) {
      if (refund.status !== 'succeeded') continue;
      counted += refund.amount;
      await recordLedgerEntry(tx, {
        kind: 'refund',
        giftEntryId: gift.id,
        amount: refund.amount,
        currency: refund.currency,
        stripeRefundId: refund.id,
        occurredAt: secondsToDate(refund.created),
      });
    }
    if (refunds.amountRefunded !== null && counted !== refunds.amountRefunded) {
      this.logger.warn({ charge: refunds.chargeId, counted, amountRefunded: refunds.amountRefunded }, 'succeeded refunds differ from the charge\'s amount_refunded');
    }
    return { status: 'processed' };
  }

  private async disputeClosed(tx: EntityManager, event: Stripe.Event, dispute: Stripe.Dispute, chargePaymentIntentId: string | null): Promise<EventOutcome> {
    if (dispute.status !== 'lost') return { status: 'processed', reason: `dispute ${dispute.status}` };
    const paymentIntentId = idOf(dispute.payment_intent) ?? chargePaymentIntentId;
    if (!paymentIntentId) return ignored('disputed charge without a PaymentIntent');
    const gift = await findGiftByPaymentIntent(tx, paymentIntentId);
    if (!gift) return { status: 'deferred', awaiting: paymentIntentId };
    await recordLedgerEntry(tx, {
      kind: 'dispute_lost',
      giftEntryId: gift.id,
      amount: dispute.amount,
      currency: dispute.currency,
      stripeDisputeId: dispute.id,
      occurredAt: secondsToDate(event.created),
    });
    return { status: 'processed' };
  }

  /** Which campaign and intent a subscription belongs to: from its metadata, or what we already linked. */
  private async subscriptionLink(tx: EntityManager, subscriptionId: string, metadata: Record<string, string> | null) {
    const known = await findRecurringGift(tx, subscriptionId);
    const intent = await findIntent(tx, asUuid(metadata?.[META_CHECKOUT_INTENT]) ?? known?.checkoutIntentId ?? null);
    let campaignId: string | null = asUuid(metadata?.[META_CAMPAIGN]) ?? known?.campaignId ?? intent?.campaignId ?? null;
    if (campaignId && !(await tx.getRepository(Campaign).existsBy({ id: campaignId }))) campaignId = null;
    const frequency: Frequency | null = frequencyOfInterval(known?.interval);
    return { campaignId, intent, frequency };
  }

  /** The PaymentIntent that paid an invoice (basil: in invoice.payments, fetched when the payload lacks it). */
  private async invoicePaymentIntent(invoice: Stripe.Invoice): Promise<string | null> {
    let payments = invoice.payments?.data ?? [];
    if (!payments.some((p) => p.status === 'paid')) {
      payments = [];
      for await (const payment of this.stripe.invoicePayments.list({ invoice: invoice.id, limit: 100 })) payments.push(payment);
    }
    const paid = payments.find((p) => p.status === 'paid');
    return paid?.payment?.type === 'payment_intent' ? idOf(paid.payment.payment_intent) : null;
  }
}

/** The part of a payment that covered fees, when the amount is still the one the supporter chose. */
function feeCoverOf(intent: CheckoutIntent, amountPaid: number): number {
  return amountPaid === intent.totalAmount ? intent.feeCoverAmount : 0;
}
