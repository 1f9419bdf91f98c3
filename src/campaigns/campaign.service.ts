import MarkdownIt from 'markdown-it';
import type { DataSource, EntityManager } from 'typeorm';
import { z } from 'zod';
import { keptTotals, type Totals } from '../ledger/ledger.service';
import { currencyRule, formatMoney, isSupportedCurrency, MAX_CHARGE_MINOR, SUPPORTED_CURRENCIES } from '../money';
import { Campaign, FREQUENCIES } from './campaign.entity';

/** A hero image: an https URL, or a path on this site ("/assets/hero.jpg"), never a protocol-relative or script URL. */
function isHeroImageUrl(value: string): boolean {
  if (/[\s\\]/.test(value)) return false;
  if (value.startsWith('/')) return !value.startsWith('//');
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && !url.username && !url.password;
  } catch {
    return false;
  }
}

/** Preset amounts a campaign suggests when none are given: 10, 25 and 50 times the currency's smallest gift. */
function defaultPresetAmounts(currency: string): number[] {
  const { minMinor } = currencyRule(currency);
  return [10, 25, 50].map((n) => n * minMinor);
}

export const MAX_PRESET_AMOUNTS = 6;

/** What a valid campaign is, for every way one is made or changed (the console, the CLI, the demo, tests). */
export const campaignInputSchema = z
  .object({
    slug: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'use lower-case letters, digits and single hyphens, like end-of-year').max(80),
    title: z.string().trim().min(1, 'is required').max(200),
    storyMarkdown: z.string().max(20_000).default(''),
    heroImageUrl: z.string().trim().max(2_000).refine(isHeroImageUrl, 'must be an https:// address or a path on this site starting with /').nullable().default(null),
    currency: z.string().toLowerCase().refine(isSupportedCurrency, `must be one of ${SUPPORTED_CURRENCIES.join(', ')}`),
    goalAmount: z.number().int().positive('must be above zero').max(Number.MAX_SAFE_INTEGER),
    /** Pledged before the campaign opened: shown beside the ledger's total, never written into it. */
    startingAmount: z.number().int().min(0, 'cannot be negative').max(Number.MAX_SAFE_INTEGER).default(0),
    presetAmounts: z.array(z.number().int()).min(1, 'needs at least one amount').max(MAX_PRESET_AMOUNTS, `takes at most ${MAX_PRESET_AMOUNTS} amounts`).optional(),
    defaultFrequency: z.enum(FREQUENCIES).default('once'),
    startsAt: z.date().optional(),
    endsAt: z.date().nullable().default(null),
    active: z.boolean().default(true),
    holdComments: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    if (c.endsAt && c.startsAt && c.endsAt <= c.startsAt) ctx.addIssue({ code: 'custom', path: ['endsAt'], message: 'must be after the start' });
    if (!isSupportedCurrency(c.currency) || !c.presetAmounts) return;
    // Each preset must be a gift the donate form would take.
    const { minMinor } = currencyRule(c.currency);
    if (c.presetAmounts.some((minor) => minor < minMinor || minor > MAX_CHARGE_MINOR)) {
      ctx.addIssue({ code: 'custom', path: ['presetAmounts'], message: `must each be from ${formatMoney(minMinor, c.currency)} to ${formatMoney(MAX_CHARGE_MINOR, c.currency)}` });
    }
  })
  .transform((c) => ({ ...c, presetAmounts: c.presetAmounts ?? defaultPresetAmounts(c.currency) }));

export type CampaignInput = z.input<typeof campaignInputSchema>;
export type CampaignData = z.output<typeof campaignInputSchema>;

export class CampaignExistsError extends Error {}

/** Creates a campaign and its kept-totals row; with `audit`, writes the console's audit row in the same transaction. */
export async function createCampaign(
  dataSource: DataSource | EntityManager,
  input: CampaignInput,
  audit?: (tx: EntityManager, campaign: Campaign) => Promise<void>,
): Promise<Campaign> {
  const data = campaignInputSchema.parse(input);
  const manager = 'manager' in dataSource ? dataSource.manager : dataSource;
  return manager.transaction(async (tx) => {
    const existing = await tx.findOne(Campaign, { where: { slug: data.slug } });
    if (existing) throw new CampaignExistsError(`A campaign with slug "${data.slug}" already exists`);
    const campaign = tx.create(Campaign, { ...data, startsAt: data.startsAt ?? new Date() });
    await tx.save(campaign);
    await tx.query(`INSERT INTO campaign_totals (campaign_id) VALUES ($1) ON CONFLICT DO NOTHING`, [campaign.id]);
    await audit?.(tx, campaign);
    return campaign;
  });
}

export function findCampaignBySlug(dataSource: DataSource, slug: string): Promise<Campaign | null> {
  if (!/^[a-z0-9-]{1,80}$/.test(slug)) return Promise.resolve(null);
  return dataSource.getRepository(Campaign).findOne({ where: { slug } });
}

export function listActiveCampaigns(dataSource: DataSource): Promise<Campaign[]> {
  return dataSource.getRepository(Campaign).find({ where: { active: true }, order: { createdAt: 'DESC' } });
}

export type CampaignState = 'open' | 'not_started' | 'ended' | 'inactive';

export function campaignState(campaign: Campaign, now: Date): CampaignState {
  if (!campaign.active) return 'inactive';
  if (campaign.startsAt > now) return 'not_started';
  if (campaign.endsAt && campaign.endsAt <= now) return 'ended';
  return 'open';
}

export interface CampaignProgress {
  slug: string;
  currency: string;
  goal: number;
  /** Pledged before the campaign opened (campaigns.starting_amount); included in raised. */
  startingAmount: number;
  /** startingAmount plus the ledger's net: what the bar shows, here and on the admin dashboard. */
  raised: number;
  donors: number;
  gifts: number;
  /** Whole percent of the goal reached; may pass 100. */
  percent: number;
  endsAt: string | null;
  daysLeft: number | null;
}

const DAY_MS = 86_400_000;

/** What a campaign has raised: money pledged before it opened plus the ledger's net. */
export function raisedWithStartingAmount(campaign: Campaign, ledgerNet: number): number {
  return campaign.startingAmount + ledgerNet;
}

/** Whole percent of the goal reached, rounded down; may pass 100. */
export function percentOfGoal(raised: number, goal: number): number {
  return Math.max(0, Math.floor((raised * 100) / goal));
}

/** Progress from the kept totals (one row), never a SUM over every gift. */
export async function campaignProgress(dataSource: DataSource, campaign: Campaign, now = new Date()): Promise<CampaignProgress> {
  return progressFromTotals(campaign, await keptTotals(dataSource.manager, campaign.id), now);
}

export function progressFromTotals(campaign: Campaign, totals: Totals, now = new Date()): CampaignProgress {
  const raised = raisedWithStartingAmount(campaign, totals.raised);
  return {
    slug: campaign.slug,
    currency: campaign.currency,
    goal: campaign.goalAmount,
    startingAmount: campaign.startingAmount,
    raised,
    donors: totals.donors,
    gifts: totals.gifts,
    percent: percentOfGoal(raised, campaign.goalAmount),
    endsAt: campaign.endsAt ? campaign.endsAt.toISOString() : null,
    daysLeft: campaign.endsAt ? Math.max(0, Math.ceil((campaign.endsAt.getTime() - now.getTime()) / DAY_MS)) : null,
  };
}

export interface WallEntry {
  displayName: string | null;
  comment: string | null;
  /** An admin approved the comment: where the campaign holds comments, only these show. */
  commentApproved: boolean;
  occurredAt: Date;
}

/**
 * Recent first gifts (not renewals) that still count, with what the donor chose to make public.
 * The filter matches ledger_entries_wall_idx's predicate and the order its key, so the plan is a
 * walk down that index stopped by the LIMIT, whether or not the planner has statistics; only the
 * few gifts it keeps look up their intent (by primary key).
 */
export const DONOR_WALL_QUERY = `
  SELECT ci.donor_name, ci.comment, ci.anonymous, ci.comment_approved, wall.occurred_at
    FROM (SELECT g.checkout_intent_id, g.occurred_at
            FROM ledger_entries g
           WHERE g.campaign_id = $1 AND g.kind = 'gift' AND NOT g.renewal AND g.checkout_intent_id IS NOT NULL
             -- Refunds and lost disputes may have taken the whole gift back.
             AND g.amount + COALESCE((SELECT SUM(a.amount) FROM ledger_entries a WHERE a.gift_entry_id = g.id), 0) > 0
           ORDER BY g.occurred_at DESC
           LIMIT $2) wall
    -- An admin may hide a donor's name and comment from the wall.
    CROSS JOIN LATERAL (SELECT CASE WHEN i.comment_hidden_at IS NULL THEN i.donor_name END AS donor_name,
                               CASE WHEN i.comment_hidden_at IS NULL THEN i.comment END AS comment,
                               i.anonymous OR i.comment_hidden_at IS NOT NULL AS anonymous,
                               i.comment_approved_at IS NOT NULL AS comment_approved
                          FROM checkout_intents i WHERE i.id = wall.checkout_intent_id) ci
   ORDER BY wall.occurred_at DESC`;

export async function recentPublicGifts(dataSource: DataSource, campaignId: string, limit = 10): Promise<WallEntry[]> {
  const rows: { donor_name: string | null; comment: string | null; anonymous: boolean; comment_approved: boolean; occurred_at: Date }[] =
    await dataSource.query(DONOR_WALL_QUERY, [campaignId, limit]);
  return rows.map((r) => ({
    displayName: r.anonymous ? null : r.donor_name,
    comment: r.comment,
    commentApproved: r.comment_approved,
    occurredAt: new Date(r.occurred_at),
  }));
}

// Raw HTML off: a story can format text and link, never inject markup or scripts.
const markdown = new MarkdownIt({ html: false, linkify: true, typographer: true });

export function renderStory(storyMarkdown: string): string {
  return markdown.render(storyMarkdown);
}
