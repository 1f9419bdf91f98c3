import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from '../db/columns';
import type { Frequency } from '../campaigns/campaign.entity';

export type LedgerEntryKind = 'gift' | 'refund' | 'dispute_lost' | 'refund_reversal' | 'void';
export type LedgerSource = 'stripe' | 'offline';

/**
 * One movement of money, never updated. Gifts are positive; refunds and lost disputes are
 * negative and point at the gift they reduce; a refund reversal (a refund that failed after it
 * succeeded) is positive and points at the same gift. Each Stripe id is UNIQUE (a refund's per
 * kind: its refund row and at most one reversal): one Stripe object that moves money maps to at
 * most one row of each kind, whatever replays or reorders deliver. Offline gifts (source
 * 'offline') have no Stripe id but a UNIQUE offline key instead; a void (negative, offline only)
 * takes back all that is left of one offline gift, at most once per gift.
 */
@Entity({ name: 'ledger_entries' })
export class LedgerEntry {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'campaign_id', type: 'uuid' })
  campaignId: string;

  @Column({ name: 'donor_id', type: 'uuid', nullable: true })
  donorId: string | null;

  @Column({ type: 'text' })
  kind: LedgerEntryKind;

  @Column({ type: 'bigint', transformer: bigintNumber })
  amount: number;

  @Column({ type: 'char', length: 3 })
  currency: string;

  @Column({ name: 'fee_cover_amount', type: 'bigint', transformer: bigintNumber, default: 0 })
  feeCoverAmount: number;

  @Column({ type: 'text' })
  source: LedgerSource;

  @Column({ type: 'text', nullable: true })
  frequency: Frequency | null;

  @Column({ type: 'boolean', default: false })
  renewal: boolean;

  @Column({ name: 'gift_entry_id', type: 'uuid', nullable: true })
  giftEntryId: string | null;

  @Column({ name: 'checkout_intent_id', type: 'uuid', nullable: true })
  checkoutIntentId: string | null;

  @Column({ name: 'stripe_checkout_session_id', type: 'text', nullable: true })
  stripeCheckoutSessionId: string | null;

  @Column({ name: 'stripe_invoice_id', type: 'text', nullable: true })
  stripeInvoiceId: string | null;

  @Column({ name: 'stripe_payment_intent_id', type: 'text', nullable: true })
  stripePaymentIntentId: string | null;

  @Column({ name: 'stripe_subscription_id', type: 'text', nullable: true })
  stripeSubscriptionId: string | null;

  @Column({ name: 'stripe_refund_id', type: 'text', nullable: true })
  stripeRefundId: string | null;

  @Column({ name: 'stripe_dispute_id', type: 'text', nullable: true })
  stripeDisputeId: string | null;

  /** An offline gift's identity: the one-time key of the form that recorded it. */
  @Column({ name: 'offline_key', type: 'text', nullable: true })
  offlineKey: string | null;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
