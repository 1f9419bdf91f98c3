import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../db/columns';
import type { Frequency } from '../campaigns/campaign.entity';

export type CheckoutIntentStatus = 'pending' | 'open' | 'completed' | 'expired' | 'failed';

/**
 * What a supporter asked to give, written before we call Stripe. Its id keys the Checkout
 * Session (idempotency key, client_reference_id, metadata), so every Stripe object leads back here.
 */
@Entity({ name: 'checkout_intents' })
export class CheckoutIntent {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'campaign_id', type: 'uuid' })
  campaignId: string;

  @Column({ type: 'text' })
  frequency: Frequency;

  @Column({ name: 'donation_amount', type: 'bigint', transformer: bigintNumber })
  donationAmount: number;

  @Column({ name: 'fee_cover_amount', type: 'bigint', transformer: bigintNumber, default: 0 })
  feeCoverAmount: number;

  @Column({ name: 'total_amount', type: 'bigint', transformer: bigintNumber })
  totalAmount: number;

  @Column({ type: 'char', length: 3 })
  currency: string;

  @Column({ type: 'text' })
  email: string;

  @Column({ name: 'donor_name', type: 'text', nullable: true })
  donorName: string | null;

  @Column({ type: 'text', nullable: true })
  comment: string | null;

  @Column({ type: 'boolean', default: false })
  anonymous: boolean;

  @Column({ type: 'text', nullable: true })
  dedication: string | null;

  @Column({ type: 'boolean', default: false })
  newsletter: boolean;

  @Column({ type: 'text', default: 'pending' })
  status: CheckoutIntentStatus;

  @Column({ name: 'stripe_checkout_session_id', type: 'text', nullable: true, unique: true })
  stripeCheckoutSessionId: string | null;

  @Column({ name: 'checkout_url', type: 'text', nullable: true })
  checkoutUrl: string | null;

  @Column({ name: 'stripe_customer_id', type: 'text', nullable: true })
  stripeCustomerId: string | null;

  @Column({ name: 'stripe_subscription_id', type: 'text', nullable: true })
  stripeSubscriptionId: string | null;

  @Column({ name: 'donor_id', type: 'uuid', nullable: true })
  donorId: string | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
