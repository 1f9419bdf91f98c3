/** State of the emulated Stripe account, and the event log: in memory (persistence.ts can keep it in a file). */
import { AsyncLocalStorage } from 'node:async_hooks';
import type Stripe from 'stripe';
import { noSuch } from './errors';
import { clone, newId, nowSeconds } from './util';

export const API_VERSION = '2026-10-28.endive';

/** The API request an event was caused by; events from the hosted pages or test controls have none. */
export interface RequestContext {
  requestId: string;
  idempotencyKey: string | null;
}
export const requestContext = new AsyncLocalStorage<RequestContext>();

/** What a Checkout Session needs later but Stripe does not show on the Session object. */
export interface SessionExtras {
  lineItems: Stripe.LineItem[];
  paymentIntentMetadata: Record<string, string>;
  paymentIntentDescription: string | null;
  subscriptionMetadata: Record<string, string>;
  subscriptionDescription: string | null;
}

export interface IdempotentResponse {
  fingerprint: string;
  status: number;
  body: unknown;
}

type EventListener = (event: Stripe.Event) => void;

export class EmulatorStore {
  readonly products = new Map<string, Stripe.Product>();
  readonly prices = new Map<string, Stripe.Price>();
  readonly customers = new Map<string, Stripe.Customer>();
  readonly paymentMethods = new Map<string, Stripe.PaymentMethod>();
  readonly checkoutSessions = new Map<string, Stripe.Checkout.Session>();
  readonly paymentIntents = new Map<string, Stripe.PaymentIntent>();
  readonly charges = new Map<string, Stripe.Charge>();
  readonly refunds = new Map<string, Stripe.Refund>();
  readonly disputes = new Map<string, Stripe.Dispute>();
  readonly subscriptions = new Map<string, Stripe.Subscription>();
  readonly invoices = new Map<string, Stripe.Invoice>();
  readonly invoicePayments = new Map<string, Stripe.InvoicePayment>();
  readonly portalSessions = new Map<string, Stripe.BillingPortal.Session>();
  readonly balanceTransactions = new Map<string, Stripe.BalanceTransaction>();

  readonly sessionExtras = new Map<string, SessionExtras>();
  /** Card numbers behind payment methods, so renewals know whether the saved card pays. Never exposed. */
  readonly cardNumbers = new Map<string, string>();
  readonly idempotency = new Map<string, IdempotentResponse>();

  readonly events: Stripe.Event[] = [];
  /** Per event: whether a webhook delivery succeeded (events.list `delivery_success`). */
  readonly delivered = new Map<string, boolean>();
  private readonly listeners: EventListener[] = [];
  private readonly changeListeners: (() => void)[] = [];

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  /** Says the state may have changed (an API write, a control, a delivery); emit() says it by itself. */
  changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  markDelivered(eventId: string): void {
    this.delivered.set(eventId, true);
    this.changed();
  }

  /** Records an event with a snapshot of the object as it is now, and hands it to the webhook queue. */
  emit(type: string, object: { id: string }, previousAttributes?: Record<string, unknown>): Stripe.Event {
    const request = requestContext.getStore();
    const event = {
      id: newId('evt_'),
      object: 'event',
      api_version: API_VERSION,
      created: nowSeconds(),
      data: { object: clone(object), ...(previousAttributes && { previous_attributes: clone(previousAttributes) }) },
      livemode: false,
      pending_webhooks: 0,
      request: { id: request?.requestId ?? null, idempotency_key: request?.idempotencyKey ?? null },
      type,
    } as unknown as Stripe.Event;
    this.events.push(event);
    this.delivered.set(event.id, false);
    for (const listener of this.listeners) listener(event);
    this.changed();
    return event;
  }

  /** Any stored object by id, for `expand[]`. */
  findById(id: string): { id: string; object: string } | undefined {
    const maps: Map<string, { id: string; object: string }>[] = [
      this.products, this.prices, this.customers, this.paymentMethods, this.checkoutSessions, this.paymentIntents,
      this.charges, this.refunds, this.disputes, this.subscriptions, this.invoices, this.invoicePayments, this.portalSessions,
      this.balanceTransactions,
    ];
    for (const map of maps) {
      const found = map.get(id);
      if (found) return found;
    }
    return undefined;
  }
}

/** Map lookup that answers Stripe's 404 when missing. */
export function getOr404<T>(map: Map<string, T>, id: string, kind: string): T {
  const value = map.get(id);
  if (!value) throw noSuch(kind, id);
  return value;
}
