import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * received: waiting for the inbox worker (see next_attempt_at); deferred: waiting for the gift it
 * adjusts; failed: applying it can never succeed as is, or kept failing (see last_error); it waits for a person.
 */
export type StripeEventStatus = 'received' | 'processed' | 'ignored' | 'deferred' | 'failed';

/** The webhook inbox: every verified event, keyed by Stripe's id so a redelivery is a no-op. */
@Entity({ name: 'stripe_events' })
export class StripeEventRecord {
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Column({ type: 'text' })
  type: string;

  @Column({ name: 'api_version', type: 'text', nullable: true })
  apiVersion: string | null;

  @Column({ name: 'stripe_created_at', type: 'timestamptz' })
  stripeCreatedAt: Date;

  @Column({ type: 'jsonb' })
  payload: unknown;

  @Column({ type: 'text', default: 'received' })
  status: StripeEventStatus;

  /** For a deferred event: the PaymentIntent id whose gift it waits for. */
  @Column({ type: 'text', nullable: true })
  awaiting: string | null;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  /** For a 'received' event: when a worker may next try it (after a backoff, or once a worker's lease ends). */
  @Column({ name: 'next_attempt_at', type: 'timestamptz', default: () => 'now()' })
  nextAttemptAt: Date;

  /** Why an event was ignored (or a note on how it was applied). */
  @Column({ name: 'outcome_reason', type: 'text', nullable: true })
  outcomeReason: string | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  @Column({ name: 'received_at', type: 'timestamptz', default: () => 'now()' })
  receivedAt: Date;

  @Column({ name: 'processed_at', type: 'timestamptz', nullable: true })
  processedAt: Date | null;
}
