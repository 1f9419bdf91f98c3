import { createHash, randomUUID } from 'node:crypto';
import { IsNull, Not, type DataSource } from 'typeorm';
import type { Logger } from '../logger';
import { idOf, Stripe } from '../payments/stripe/stripe-client';
import { asUuid } from './checkout-intent.service';
import { addMonthsUtc, ENDED_STATUSES } from './plan-schedule';
import { RecurringGift } from './recurring-gift.entity';
import { applySubscriptionState } from './subscription-state';

/** A change a donor asks for on one of their plans, already checked for shape and limits. */
export type PlanChange =
  | { action: 'amount'; amount: number }
  /** A new interval, and the amount of each gift at it. */
  | { action: 'frequency'; interval: 'month' | 'year'; amount: number }
  | { action: 'pause'; months: 1 | 2 | 3 }
  | { action: 'resume' }
  | { action: 'cancel'; when: 'period_end' | 'now'; reason: string | null };

export type PlanActionOutcome =
  /** Stripe made the change; `plan` is what Kettle stored from Stripe's state after it. */
  | { kind: 'changed'; plan: RecurringGift }
  /**
   * The form came from a page older than the plan's state: Stripe replayed its answer to the
   * same form sent before, nothing changed, and `plan` is the plan as Stripe has it now.
   */
  | { kind: 'stale'; plan: RecurringGift }
  /** The plan already was so: nothing was sent. */
  | { kind: 'unchanged'; plan: RecurringGift }
  | { kind: 'refused'; message: string }
  | { kind: 'provider_failed'; message: string };

/**
 * A card update the donor started on the billing portal: the customer, and the cards it replaces
 * (the customer's default and the plan's card when the donor left for the portal). Kept in the
 * donor's session until they come back.
 */
export interface CardUpdate {
  /** Random: names this update's writes at Stripe. */
  id: string;
  customerId: string;
  replacing: string[];
}

export type CardUpdateOutcome =
  | { kind: 'redirect'; url: string; update: CardUpdate }
  | { kind: 'refused'; message: string }
  | { kind: 'provider_failed'; message: string };

const ENDED_MESSAGE = 'This gift has ended, so it cannot be changed. You can start a new one from any campaign page.';
const MISSING_MESSAGE = 'Our payment provider no longer knows this gift, so it cannot be changed here. Nothing has changed; please contact us and we will sort it out.';
const UNREACHABLE_MESSAGE = 'We could not reach our payment provider, so nothing has changed. Please try again in a few minutes.';
const DECLINED_MESSAGE = 'Our payment provider did not accept this change, so nothing has changed. Please try again, or contact us if it keeps happening.';
const UNCONFIRMED_MESSAGE = 'We could not read your gift back from our payment provider just now. Please reload this page in a minute to see it as it is.';

// With the card, so the stored plan can say which card it uses.
const WITH_CARD = ['default_payment_method'];

/**
 * Donors' changes to their recurring gifts, done at Stripe: the only code that writes to Stripe
 * for them (the account pages call it and never the SDK). Each write carries an idempotency key
 * made from the plan, the change and the form it came from, so a double-clicked button changes
 * the plan once. Stripe answers a key it has seen (for 24 hours) with its first answer, which
 * may be older than the plan's state (a page left open, sent again after other changes): so after
 * every write, what Kettle stores is a fresh read of the subscription, through
 * applySubscriptionState, the same newest-read-wins update the webhooks use.
 */
export class PlanActionsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly stripe: Stripe,
    private readonly baseUrl: string,
    private readonly logger: Logger,
  ) {}

  /**
   * The donor's plan with this id; null when there is none, it is someone else's, or it never
   * started (Checkout left unpaid: no state read from Stripe yet).
   */
  donorPlan(donorId: string, planId: string): Promise<(RecurringGift & { currency: string }) | null> {
    const id = asUuid(planId);
    if (!id) return Promise.resolve(null);
    return this.dataSource.getRepository(RecurringGift)
      .findOneBy({ id, donorId, status: Not('incomplete'), currency: Not(IsNull()) }) as Promise<(RecurringGift & { currency: string }) | null>;
  }

  /**
   * Applies `change` to the plan at Stripe. `formNonce` is the random value of the page the form
   * was on: the same form sent twice is the same request to Stripe.
   */
  async change(plan: RecurringGift, change: PlanChange, formNonce: string | null): Promise<PlanActionOutcome> {
    if (ENDED_STATUSES.has(plan.status)) return { kind: 'refused', message: ENDED_MESSAGE };
    if (alreadySo(plan, change)) return { kind: 'unchanged', plan };
    const idempotencyKey = requestKey(plan.id, change, formNonce);
    let replayed: boolean;
    try {
      const answer = await this.send(plan.stripeSubscriptionId, change, idempotencyKey);
      replayed = answer.lastResponse.headers['idempotent-replayed'] === 'true';
    } catch (err) {
      return this.providerFailed(err, plan, change.action);
    }
    let stored: RecurringGift;
    try {
      stored = await this.storeCurrentState(plan);
    } catch (err) {
      return this.providerFailed(err, plan, 'read after change', UNCONFIRMED_MESSAGE);
    }
    this.logger.info({ plan: plan.id, subscription: plan.stripeSubscriptionId, action: change.action, replayed }, 'recurring gift changed by its donor');
    // A replay whose change is in place is the same form sent twice (a double click, a network
    // retry); one whose change is not is a page from before later changes.
    return { kind: replayed && !inEffect(stored, change) ? 'stale' : 'changed', plan: stored };
  }

  /**
   * Reads the subscription from Stripe and stores it; the plan as stored. A cancel's confirmation
   * mail is queued here or by the webhook that follows, whichever stores the newer read; its key
   * makes it one mail either way.
   */
  private async storeCurrentState(plan: RecurringGift): Promise<RecurringGift> {
    const readAt = new Date();
    const sub = await this.stripe.subscriptions.retrieve(plan.stripeSubscriptionId, { expand: WITH_CARD });
    await this.dataSource.transaction((tx) => applySubscriptionState(tx, plan, sub, readAt));
    return this.dataSource.getRepository(RecurringGift).findOneByOrFail({ id: plan.id });
  }

  /**
   * A Stripe billing portal page where the donor replaces the card of this plan's customer, and
   * the update it starts (for useNewCard when the donor is back).
   */
  async cardUpdateUrl(plan: RecurringGift, formNonce: string | null): Promise<CardUpdateOutcome> {
    if (ENDED_STATUSES.has(plan.status)) return { kind: 'refused', message: ENDED_MESSAGE };
    const customerId = plan.stripeCustomerId;
    if (!customerId) return { kind: 'refused', message: DECLINED_MESSAGE };
    try {
      const [customer, sub] = await Promise.all([
        this.stripe.customers.retrieve(customerId),
        this.stripe.subscriptions.retrieve(plan.stripeSubscriptionId),
      ]);
      const replacing = [customer.deleted ? null : idOf(customer.invoice_settings?.default_payment_method), idOf(sub.default_payment_method)]
        .filter((card): card is string => card !== null);
      const session = await this.stripe.billingPortal.sessions.create({
        customer: customerId,
        return_url: `${this.baseUrl}/account`,
        flow_data: {
          type: 'payment_method_update',
          after_completion: { type: 'redirect', redirect: { return_url: `${this.baseUrl}/account?card=updated` } },
        },
      }, { idempotencyKey: requestKey(plan.id, { action: 'card' }, formNonce) });
      return { kind: 'redirect', url: session.url, update: { id: randomUUID(), customerId, replacing: [...new Set(replacing)] } };
    } catch (err) {
      return this.providerFailed(err, plan, 'card');
    }
  }

  /**
   * Back from the portal: the donor's plans under that customer that paid with a card it
   * replaced, or with none, or with one no longer attached to the customer, take the customer's
   * new default card. A plan on another card (someone who gave under this email with their own)
   * keeps it, and so does every plan under another customer. Each plan is stored as Stripe then
   * has it. Returns how many plans could not be checked.
   */
  async useNewCard(donorId: string, update: CardUpdate): Promise<{ failed: number }> {
    const plans = (await this.dataSource.getRepository(RecurringGift).findBy({ donorId, stripeCustomerId: update.customerId }))
      .filter((plan) => !ENDED_STATUSES.has(plan.status));
    let card: string | null;
    try {
      const customer = await this.stripe.customers.retrieve(update.customerId);
      card = customer.deleted ? null : idOf(customer.invoice_settings?.default_payment_method);
    } catch (err) {
      this.cardNotChecked(err, update.customerId);
      return { failed: plans.length };
    }
    let failed = 0;
    for (const plan of plans) {
      try {
        const readAt = new Date();
        const sub = await this.stripe.subscriptions.retrieve(plan.stripeSubscriptionId, { expand: WITH_CARD });
        const current = typeof sub.default_payment_method === 'object' ? sub.default_payment_method : null;
        const replaced = !current || update.replacing.includes(current.id) || idOf(current.customer) !== update.customerId;
        if (card && current?.id !== card && replaced && !ENDED_STATUSES.has(sub.status)) {
          await this.stripe.subscriptions.update(sub.id, { default_payment_method: card }, { idempotencyKey: `kettle-plan-${plan.id}-card-${update.id}` });
          await this.storeCurrentState(plan);
        } else {
          await this.dataSource.transaction((tx) => applySubscriptionState(tx, plan, sub, readAt));
        }
      } catch (err) {
        this.cardNotChecked(err, update.customerId);
        failed += 1;
      }
    }
    return { failed };
  }

  private cardNotChecked(err: unknown, customerId: string): void {
    if (!(err instanceof Stripe.errors.StripeError)) throw err;
    this.logger.warn({ customer: customerId, stripeError: stripeErrorFields(err) }, 'could not align the card of a donor\'s plans');
  }

  private async send(subscriptionId: string, change: PlanChange, idempotencyKey: string): Promise<Stripe.Response<Stripe.Subscription>> {
    const subscriptions = this.stripe.subscriptions;
    switch (change.action) {
      case 'amount':
      case 'frequency': {
        const current = await subscriptions.retrieve(subscriptionId);
        const item = current.items.data[0];
        const price = item.price;
        const recurring = change.action === 'frequency' ? { interval: change.interval, interval_count: 1 } : price.recurring!;
        return subscriptions.update(subscriptionId, {
          items: [{
            id: item.id,
            price_data: {
              currency: price.currency,
              product: idOf(price.product)!,
              unit_amount: change.amount,
              recurring: { interval: recurring.interval, interval_count: recurring.interval_count },
            },
          }],
          proration_behavior: 'none',
          // A new interval would restart the billing cycle and charge now: the period already paid
          // for runs to its end instead (as a trial), and the new interval starts at the next charge.
          ...(change.action === 'frequency' && { trial_end: item.current_period_end }),
        }, { idempotencyKey });
      }
      case 'pause': {
        // From the next renewal's own time: the renewals before resumes_at are voided, and the one
        // at it is charged, so `months` skips that many monthly gifts (one yearly gift).
        const current = await subscriptions.retrieve(subscriptionId);
        const periodEnd = new Date(current.items.data[0].current_period_end * 1000);
        const resumesAt = Math.floor(addMonthsUtc(periodEnd, change.months).getTime() / 1000);
        return subscriptions.update(subscriptionId, { pause_collection: { behavior: 'void', resumes_at: resumesAt } }, { idempotencyKey });
      }
      case 'resume':
        // Both ways a plan stops: a pause, and a cancellation set for the period's end.
        return subscriptions.update(subscriptionId, { pause_collection: '', cancel_at_period_end: false }, { idempotencyKey });
      case 'cancel': {
        const details = change.reason ? { cancellation_details: { comment: change.reason } } : {};
        return change.when === 'now'
          ? subscriptions.cancel(subscriptionId, details, { idempotencyKey })
          : subscriptions.update(subscriptionId, { cancel_at_period_end: true, ...details }, { idempotencyKey });
      }
    }
  }

  /** `message` replaces the words for a failure that does not mean "nothing has changed". */
  private providerFailed(err: unknown, plan: RecurringGift, action: string, message?: string): { kind: 'provider_failed' | 'refused'; message: string } {
    if (!(err instanceof Stripe.errors.StripeError)) throw err;
    this.logger.error({ plan: plan.id, subscription: plan.stripeSubscriptionId, action, stripeError: stripeErrorFields(err) }, 'Stripe refused or missed a donor\'s plan change');
    // The subscription or customer is gone at Stripe (deleted in the Dashboard, another account's
    // keys): trying again cannot help, so say so instead of "try again".
    if (err instanceof Stripe.errors.StripeInvalidRequestError && err.code === 'resource_missing') return { kind: 'refused', message: MISSING_MESSAGE };
    const unreachable = err instanceof Stripe.errors.StripeConnectionError || err instanceof Stripe.errors.StripeAPIError || err instanceof Stripe.errors.StripeRateLimitError;
    return { kind: 'provider_failed', message: message ?? (unreachable ? UNREACHABLE_MESSAGE : DECLINED_MESSAGE) };
  }
}

/** Whether the plan, as stored after a change, is as the change asked. */
function inEffect(plan: RecurringGift, change: PlanChange): boolean {
  switch (change.action) {
    case 'amount': return plan.amount === change.amount;
    case 'frequency': return plan.interval === change.interval && plan.amount === change.amount;
    case 'pause': return plan.paused;
    case 'resume': return !plan.paused && !plan.cancelAtPeriodEnd;
    case 'cancel': return change.when === 'now' ? plan.status === 'canceled' : plan.cancelAtPeriodEnd;
  }
}

function alreadySo(plan: RecurringGift, change: PlanChange): boolean {
  switch (change.action) {
    case 'amount': return plan.amount === change.amount;
    case 'frequency': return plan.interval === change.interval;
    case 'resume': return !plan.paused && !plan.cancelAtPeriodEnd;
    case 'cancel': return change.when === 'period_end' && plan.cancelAtPeriodEnd;
    case 'pause': return false;
  }
}

/**
 * The idempotency key of one request: the plan, what is asked, and the form's nonce. Without a
 * nonce (a link from an email) every request is its own.
 */
function requestKey(planId: string, change: PlanChange | { action: 'card' }, formNonce: string | null): string {
  const digest = createHash('sha256').update(JSON.stringify([change, formNonce ?? randomUUID()])).digest('base64url').slice(0, 22);
  return `kettle-plan-${planId}-${change.action}-${digest}`;
}

function stripeErrorFields(err: InstanceType<typeof Stripe.errors.StripeError>) {
  return { type: err.type, code: err.code, statusCode: err.statusCode, requestId: err.requestId };
}
