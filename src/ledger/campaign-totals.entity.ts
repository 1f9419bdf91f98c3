import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../db/columns';

/** Running totals kept in step with the ledger in the same transaction; never the source of truth. */
@Entity({ name: 'campaign_totals' })
export class CampaignTotals {
  @PrimaryColumn({ name: 'campaign_id', type: 'uuid' })
  campaignId: string;

  @Column({ name: 'raised_amount', type: 'bigint', transformer: bigintNumber, default: 0 })
  raisedAmount: number;

  /** Gifts whose net (after refunds and lost disputes) is still above zero. */
  @Column({ name: 'gift_count', type: 'integer', default: 0 })
  giftCount: number;

  /** Distinct donors with at least one gift that still counts. */
  @Column({ name: 'donor_count', type: 'integer', default: 0 })
  donorCount: number;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
