import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { bigintArray, bigintNumber } from '../db/columns';

export const FREQUENCIES = ['once', 'monthly', 'annual'] as const;
export type Frequency = (typeof FREQUENCIES)[number];

@Entity({ name: 'campaigns' })
export class Campaign {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text', unique: true })
  slug: string;

  @Column({ type: 'text' })
  title: string;

  @Column({ name: 'story_markdown', type: 'text', default: '' })
  storyMarkdown: string;

  /** Lower-case ISO 4217 code, as Stripe writes it. */
  @Column({ type: 'char', length: 3 })
  currency: string;

  @Column({ name: 'goal_amount', type: 'bigint', transformer: bigintNumber })
  goalAmount: number;

  /** Money pledged before the campaign opened: shown with the ledger's total, never in the ledger. */
  @Column({ name: 'starting_amount', type: 'bigint', transformer: bigintNumber, default: 0 })
  startingAmount: number;

  @Column({ name: 'hero_image_url', type: 'text', nullable: true })
  heroImageUrl: string | null;

  /** Donors' comments wait for an admin's approval before the donor wall shows them. */
  @Column({ name: 'hold_comments', type: 'boolean', default: false })
  holdComments: boolean;

  @Column({ name: 'preset_amounts', type: 'bigint', array: true, transformer: bigintArray })
  presetAmounts: number[];

  @Column({ name: 'default_frequency', type: 'text', default: 'once' })
  defaultFrequency: Frequency;

  @Column({ name: 'starts_at', type: 'timestamptz' })
  startsAt: Date;

  @Column({ name: 'ends_at', type: 'timestamptz', nullable: true })
  endsAt: Date | null;

  @Column({ type: 'boolean', default: true })
  active: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
