import type { EntityManager } from 'typeorm';
import type { Logger } from '../../logger';
import type { Frequency } from '../../campaigns/campaign.entity';
import { Campaign } from '../../campaigns/campaign.entity';
import type { CheckoutIntent } from '../../donations/checkout-intent.entity';
import {
  asUuid, findIntent, findIntentForSession, intentStillStarting, markIntentClosed, markIntentSettled,
} from '../../donations/checkout-intent.service';
import {
  findRecurringGift, frequencyOfInterval, linkRecurringGift, recordFailedPayment, type Decline,
} from '../../donations/recurring-gift.service';
import { applySubscriptionState } from '../../donations/subscription-state';
import { upsertDonor } from '../../donors/donor.service';
import { paymentFailedMail, queueMails, receiptMail, refundNoticeMail, type QueuedMail } from '../../email/outbox';
import { findGiftByPaymentIntent, recordLedgerEntry, refundIsRecorded } from '../../ledger/ledger.service';
import type { TotalsAccumulator } from '../../ledger/totals-accumulator';
import { donorOfSession, feeCoverOf, giftOfSession, secondsToDate, sessionMatchesIntent } from './checkout-gifts';
import { mergeEndedState } from './subscription-state';
import { idOf, META_CAMPAIGN, META_CHECKOUT_INTENT, type Stripe } from './stripe-client';

/**
 * Applying the event cannot succeed yet, but may later (say, the Checkout Session id is not
 * stored yet): the worker tries again after a backoff, and parks it after a bounded number of tries.
 */
export class RetryLaterError extends Error {}

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
  /** Every refund of the charge and the charge's amount_refunded, both as Stripe has them now. */
  refunds?: { chargeId: string; paymentIntentId: string | null; amountRefunded: number | null; list: Stripe.Refund[] };
  /** The subscription as it is now (its default payment method expanded), and when we read it: deliveries come in any order. */
  subscription?: { current: Stripe.Subscription; readAt: Date };
  /** Why the invoice's latest payment attempt was declined. */
  decline?: Decline | null;
  disputedPaymentIntentId?: string | null;
}

const SUBSCRIPTION_EVENTS = new Set([
  'customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted',
  'customer.subscription.paused', 'customer.subscription.resumed',
]);
const REFUND_EVENTS = new Set(['charge.refunded', 'charge.refund.updated', 'refund.created', 'refund.updated', 'refund.failed']);

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
      const current = await this.stripe.subscriptions.retrieve(sub.id, { expand: ['default_payment_method'] });
      if (event.type === 'customer.subscription.deleted') mergeEndedState(current, sub);
      return { subscription: { current, readAt } };
    }
    if (REFUND_EVENTS.has(event.type)) {
      const object = event.data.object as Stripe.Charge | Stripe.Refund;
      const chargeId = object.object === 'charge' ? object.id : idOf(object.charge);
      if (!chargeId) return {};
      const list: Stripe.Refund[] = [];
      for await (const refund of this.stripe.refunds.list({ charge: chargeId, limit: 100 })) list.push(refund);
      // Read now, not from the payload: a charge.refunded payload predates later refunds in the list.
      const charge = await this.stripe.charges.retrieve(chargeId);
      if (object.object === 'refund') mergeTerminalState(list, object);
      return { refunds: { chargeId, paymentIntentId: idOf(charge.payment_intent), amountRefunded: charge.amount_refunded, list } };
    }
    switch (event.type) {
      case 'invoice.paid':
        return { invoicePaymentIntentId: await this.invoicePaymentIntent(event.data.object) };
      case 'invoice.payment_failed':
        return { decline: await this.invoiceDecline(event.data.object) };
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

  /** Applies the event's effects in `tx`; kept totals move through `totals`, which the caller flushes before commit. */
  async apply(tx: EntityManager, event: Stripe.Event, prepared: PreparedEvent, totals: TotalsAccumulator): Promise<EventOutcome> {
    if (SUBSCRIPTION_EVENTS.has(event.type)) {
      return this.subscriptionChanged(tx, prepared.subscription ?? { current: event.data.object as Stripe.Subscription, readAt: secondsToDate(event.created) });
    }
    if (REFUND_EVENTS.has(event.type)) return this.refundsChanged(tx, prepared.refunds, totals);
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded':
        return this.checkoutSessionSettled(tx, event, event.data.object, totals);
      case 'checkout.session.async_payment_failed':
        return this.checkoutSessionClosed(tx, event.data.object, 'failed');
      case 'checkout.session.expired':
        return this.checkoutSessionClosed(tx, event.data.object, 'expired');
      case 'invoice.paid':
        return this.invoicePaid(tx, event, event.data.object, prepared.invoicePaymentIntentId ?? null, totals);
      case 'invoice.payment_failed':
        return this.invoicePaymentFailed(tx, event, event.data.object, prepared.decline ?? null);
      case 'charge.dispute.closed':
        return this.disputeClosed(tx, event, event.data.object, prepared.disputedPaymentIntentId ?? null, totals);
      default:
        return ignored('not an event Kettle acts on');
    }
  }

  private async checkoutSessionSettled(tx: EntityManager, event: Stripe.Event, session: Stripe.Checkout.Session, totals: TotalsAccumulator): Promise<EventOutcome> {
    const intent = await this.intentOfSession(tx, session);
    if (!intent) return ignored('Checkout Session not created by Kettle');
    if (!sessionMatchesIntent(session, intent)) {
      this.logger.warn({ session: session.id, intent: intent.id }, 'Checkout Session amount or currency differs from what Kettle asked for: not counted');
      return ignored(`amount or currency differs from checkout intent ${intent.id}`);
    }

    const customerId = idOf(session.customer);
    const donorId = await upsertDonor(tx, donorOfSession(session, intent));
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

    const gift = giftOfSession(event, session, intent, donorId);
    const result = await recordLedgerEntry(tx, gift, totals);
    if (result.created && result.entryId && donorId) await queueMails(tx, [receiptMail(result.entryId, donorId)]);
    return { status: 'processed', recordedPaymentIntents: result.created && gift.stripePaymentIntentId ? [gift.stripePaymentIntentId] : [] };
  }

  /**
   * Our intent for a Checkout Session: only one whose id we stored when we created it. A session
   * merely naming an intent (client_reference_id can be set on any Payment Link) is not ours.
   * The webhook can outrun the commit that stores the id: while the named intent is still being
   * started, try again later rather than ignore a real payment.
   */
  private async intentOfSession(tx: EntityManager, session: Stripe.Checkout.Session): Promise<CheckoutIntent | null> {
    const intent = await findIntentForSession(tx, session.id);
    if (intent) return intent;
    const reference = session.client_reference_id ?? session.metadata?.[META_CHECKOUT_INTENT] ?? null;
    if (await intentStillStarting(tx, reference)) {
      throw new RetryLaterError(`checkout intent ${reference} has not stored its Checkout Session id yet`);
    }
    return null;
  }

  private async checkoutSessionClosed(tx: EntityManager, session: Stripe.Checkout.Session, status: 'failed' | 'expired'): Promise<EventOutcome> {
    const intent = await this.intentOfSession(tx, session);
    if (!intent) return ignored('Checkout Session not created by Kettle');
    await markIntentClosed(tx, intent.id, status);
    return { status: 'processed' };
  }

  private async invoicePaid(tx: EntityManager, event: Stripe.Event, invoice: Stripe.Invoice, paymentIntentId: string | null, totals: TotalsAccumulator): Promise<EventOutcome> {
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

    const renewal = invoice.billing_reason !== 'subscription_create';
    const result = await recordLedgerEntry(tx, {
      kind: 'gift',
      campaignId: link.campaignId,
      donorId,
      amount: invoice.amount_paid,
      currency: invoice.currency,
      feeCoverAmount: link.intent ? feeCoverOf(link.intent, invoice.amount_paid) : 0,
      source: 'stripe',
      // A renewal is charged at the plan's interval as now stored (the donor may have switched
      // from monthly to annual since Checkout); the first payment at the one they chose.
      frequency: (renewal ? link.frequency : null) ?? link.intent?.frequency ?? link.frequency ?? 'monthly',
      renewal,
      checkoutIntentId: link.intent?.id ?? null,
      stripeInvoiceId: invoice.id,
      stripePaymentIntentId: paymentIntentId,
      stripeSubscriptionId: subscriptionId,
      occurredAt: secondsToDate(invoice.status_transitions?.paid_at ?? event.created),
    }, totals);
    if (result.created && result.entryId && donorId) await queueMails(tx, [receiptMail(result.entryId, donorId)]);
    if (!paymentIntentId) this.logger.warn({ invoice: invoice.id }, 'paid invoice without a PaymentIntent: its refunds cannot be matched');
    return { status: 'processed', recordedPaymentIntents: result.created && paymentIntentId ? [paymentIntentId] : [] };
  }

  /** Records the failed attempt and its decline, and owes the donor one mail per failed invoice (retries included). */
  private async invoicePaymentFailed(tx: EntityManager, event: Stripe.Event, invoice: Stripe.Invoice, decline: Decline | null): Promise<EventOutcome> {
    const details = invoice.parent?.subscription_details;
    const subscriptionId = idOf(details?.subscription);
    if (!subscriptionId) return ignored('invoice without a subscription');
    const link = await this.subscriptionLink(tx, subscriptionId, details?.metadata ?? null);
    if (!link.campaignId) return ignored('subscription not created by Kettle');
    const customerId = idOf(invoice.customer);
    const donorId = await upsertDonor(tx, { email: invoice.customer_email ?? link.intent?.email, name: link.intent?.donorName ?? invoice.customer_name, stripeCustomerId: customerId });
    const plan = await linkRecurringGift(tx, subscriptionId, { campaignId: link.campaignId, donorId, intentId: link.intent?.id ?? null, customerId });
    await recordFailedPayment(tx, subscriptionId, secondsToDate(event.created), decline,
      invoice.next_payment_attempt ? secondsToDate(invoice.next_payment_attempt) : null);
    // A first payment that fails leaves no plan to rescue (Checkout asks for another card there and then).
    if (plan.donorId && invoice.billing_reason !== 'subscription_create') {
      await queueMails(tx, [paymentFailedMail({
        recurringGiftId: plan.id, donorId: plan.donorId, invoiceId: invoice.id, amount: invoice.amount_due, currency: invoice.currency,
        nextAttemptAt: invoice.next_payment_attempt ?? null,
      })]);
    }
    this.logger.info({ subscription: subscriptionId, invoice: invoice.id, decline: decline?.code }, 'recurring gift payment failed');
    return { status: 'processed' };
  }

  private async subscriptionChanged(tx: EntityManager, { current: sub, readAt }: { current: Stripe.Subscription; readAt: Date }): Promise<EventOutcome> {
    const link = await this.subscriptionLink(tx, sub.id, sub.metadata);
    if (!link.campaignId) return ignored('subscription not created by Kettle');
    const customerId = idOf(sub.customer);
    const donorId = customerId ? await upsertDonor(tx, { stripeCustomerId: customerId }) : null;
    const plan = await linkRecurringGift(tx, sub.id, { campaignId: link.campaignId, donorId, intentId: link.intent?.id ?? null, customerId });
    await applySubscriptionState(tx, plan, sub, readAt);
    return { status: 'processed' };
  }

  /**
   * Records every succeeded refund of a charge, each keyed on its refund id. A pending refund
   * counts once a later refund or charge event finds it succeeded. A recorded refund that then
   * failed (Stripe could not return the money) is reversed: its money counts again, once.
   */
  private async refundsChanged(tx: EntityManager, refunds: PreparedEvent['refunds'], totals: TotalsAccumulator): Promise<EventOutcome> {
    if (!refunds?.paymentIntentId) return ignored('refund of a charge without a PaymentIntent');
    const gift = await findGiftByPaymentIntent(tx, refunds.paymentIntentId);
    if (!gift) return { status: 'deferred', awaiting: refunds.paymentIntentId };

    let outstanding = 0;
    const notices: QueuedMail[] = [];
    const failedRefunds: string[] = [];
    for (const refund of refunds.list) {
      const adjustment = { giftEntryId: gift.id, amount: refund.amount, currency: refund.currency, stripeRefundId: refund.id };
      if (refund.status === 'succeeded') {
        outstanding += refund.amount;
        const result = await recordLedgerEntry(tx, { kind: 'refund', ...adjustment, occurredAt: secondsToDate(refund.created) }, totals);
        if (result.created && result.entryId && gift.donorId) notices.push(refundNoticeMail(result.entryId, gift.donorId));
      } else if (refund.status === 'pending' || refund.status === 'requires_action') {
        outstanding += refund.amount;
      } else if (refund.status === 'failed' && await refundIsRecorded(tx, refund.id)) {
        await recordLedgerEntry(tx, { kind: 'refund_reversal', ...adjustment, occurredAt: new Date() }, totals);
      }
      if (refund.status === 'failed' || refund.status === 'canceled') failedRefunds.push(refund.id);
    }
    // An admin's refund request that Stripe could not complete no longer holds its amount back from another refund.
    if (failedRefunds.length) {
      await tx.query(
        `UPDATE refund_requests SET status = 'failed', error = 'Stripe could not complete this refund.', updated_at = now()
          WHERE stripe_refund_id = ANY($1) AND status <> 'failed'`,
        [failedRefunds],
      );
    }
    await queueMails(tx, notices);
    // Stripe's amount_refunded counts pending refunds too, and drops failed ones.
    if (refunds.amountRefunded !== null && outstanding !== refunds.amountRefunded) {
      this.logger.warn({ charge: refunds.chargeId, outstanding, amountRefunded: refunds.amountRefunded }, 'refunds differ from the charge\'s amount_refunded');
    }
    return { status: 'processed' };
  }

  private async disputeClosed(tx: EntityManager, event: Stripe.Event, dispute: Stripe.Dispute, chargePaymentIntentId: string | null, totals: TotalsAccumulator): Promise<EventOutcome> {
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
    }, totals);
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

  /** Why the invoice's latest payment attempt failed: its PaymentIntent's last_payment_error. */
  private async invoiceDecline(invoice: Stripe.Invoice): Promise<Decline | null> {
    let payments = invoice.payments?.data ?? [];
    if (payments.length === 0) {
      for await (const payment of this.stripe.invoicePayments.list({ invoice: invoice.id, limit: 100 })) payments.push(payment);
    }
    // Listed newest first: the attempt this event is about.
    const attempt = [...payments].sort((a, b) => b.created - a.created).find((p) => p.payment?.type === 'payment_intent');
    const paymentIntentId = attempt?.payment?.type === 'payment_intent' ? idOf(attempt.payment.payment_intent) : null;
    if (!paymentIntentId) return null;
    const error = (await this.stripe.paymentIntents.retrieve(paymentIntentId)).last_payment_error;
    return error ? { code: error.decline_code ?? error.code ?? null, message: error.message ?? null, paymentMethodId: idOf(error.payment_method) } : null;
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

/**
 * A refund event's own (signed) object wins over the list when it says the refund failed or was
 * canceled: those states are final, so no later read can make the refund count again.
 */
function mergeTerminalState(list: Stripe.Refund[], fromEvent: Stripe.Refund) {
  if (fromEvent.status !== 'failed' && fromEvent.status !== 'canceled') return;
  const listed = list.find((r) => r.id === fromEvent.id);
  if (listed) listed.status = fromEvent.status;
  else list.push(fromEvent);
}
