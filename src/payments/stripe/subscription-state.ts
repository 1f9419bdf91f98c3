import type { Stripe } from './stripe-client';

/**
 * A customer.subscription.deleted event's own (signed) object says how the subscription ended,
 * and that state is final: it wins over the read, as a refund event's final state does.
 */
export function mergeEndedState(current: Stripe.Subscription, ended: Stripe.Subscription): void {
  if (ended.status !== 'canceled') return;
  current.status = 'canceled';
  current.canceled_at = ended.canceled_at ?? current.canceled_at;
  current.ended_at = ended.ended_at ?? current.ended_at;
  current.cancellation_details = ended.cancellation_details ?? current.cancellation_details;
}
