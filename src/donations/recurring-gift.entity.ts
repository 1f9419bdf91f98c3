import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../db/columns';

/** Kettle's view of a Stripe subscription: who gives, to what, how much, and its state. */
@Entity({ name: 'recurring_gifts' })
export class RecurringGift {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'stripe_subscription_id', type: 'text', unique: true })
  stripeSubscriptionId: string;

  @Column({ name: 'campaign_id', type: 'uuid', nullable: true })
  campaignId: string | null;

  @Column({ name: 'donor_id', type: 'uuid', nullable: true })
  donorId: string | null;

  @Column({ name: 'checkout_intent_id', type: 'uuid', nullable: true })
  checkoutIntentId: string | null;

  @Column({ name: 'stripe_customer_id', type: 'text', nullable: true })
  stripeCustomerId: string | null;

  @Column({ type: 'text', default: 'incomplete' })
  status: string;

  @Column({ type: 'bigint', transformer: bigintNumber, nullable: true })
  amount: number | null;

  @Column({ type: 'char', length: 3, nullable: true })
  currency: string | null;

  @Column({ type: 'text', nullable: true })
  interval: string | null;

  @Column({ name: 'cancel_at_period_end', type: 'boolean', default: false })
  cancelAtPeriodEnd: boolean;

  @Column({ type: 'boolean', default: false })
  paused: boolean;

  @Column({ name: 'current_period_end', type: 'timestamptz', nullable: true })
  currentPeriodEnd: Date | null;

  @Column({ name: 'failed_payment_count', type: 'integer', default: 0 })
  failedPaymentCount: number;

  @Column({ name: 'last_payment_failed_at', type: 'timestamptz', nullable: true })
  lastPaymentFailedAt: Date | null;

  /** The card that pays it: the subscription's default payment method. */
  @Column({ name: 'stripe_payment_method_id', type: 'text', nullable: true })
  stripePaymentMethodId: string | null;

  @Column({ name: 'card_brand', type: 'text', nullable: true })
  cardBrand: string | null;

  @Column({ name: 'card_last4', type: 'text', nullable: true })
  cardLast4: string | null;

  @Column({ name: 'card_exp_month', type: 'integer', nullable: true })
  cardExpMonth: number | null;

  @Column({ name: 'card_exp_year', type: 'integer', nullable: true })
  cardExpYear: number | null;

  /** Paused until then (Stripe's pause_collection.resumes_at). */
  @Column({ name: 'pause_resumes_at', type: 'timestamptz', nullable: true })
  pauseResumesAt: Date | null;

  /** When it ends, or is set to end. */
  @Column({ name: 'cancel_at', type: 'timestamptz', nullable: true })
  cancelAt: Date | null;

  /** When the cancellation was asked for (Stripe's canceled_at, set as soon as a cancel at period end is). */
  @Column({ name: 'canceled_at', type: 'timestamptz', nullable: true })
  canceledAt: Date | null;

  /** The last failed charge's decline (Stripe's decline_code, else its error code) and message. */
  /** When Stripe next tries the latest failed payment (null: it will not, or nothing failed). */
  @Column({ name: 'next_payment_attempt_at', type: 'timestamptz', nullable: true })
  nextPaymentAttemptAt: Date | null;

  @Column({ name: 'last_decline_code', type: 'text', nullable: true })
  lastDeclineCode: string | null;

  @Column({ name: 'last_decline_message', type: 'text', nullable: true })
  lastDeclineMessage: string | null;

  /** When the stored state was read from Stripe: an older read never overwrites a newer one. */
  @Column({ name: 'stripe_state_at', type: 'timestamptz', nullable: true })
  stripeStateAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
