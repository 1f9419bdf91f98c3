import type { DataSource, EntityManager } from 'typeorm';
import { Campaign } from '../../campaigns/campaign.entity';
import { CampaignExistsError, createCampaign, findCampaignBySlug, type CampaignData } from '../../campaigns/campaign.service';
import { audit } from '../accounts/admin-accounts.service';

/** One line of the console's campaign list. */
export interface CampaignListRow {
  slug: string;
  title: string;
  active: boolean;
  currency: string;
  goalAmount: number;
  startingAmount: number;
  raised: number;
  startsAt: Date;
  endsAt: Date | null;
}

/** The list shows this many campaigns at most, newest first: an organisation runs a handful a year. */
export const CAMPAIGN_LIST_LIMIT = 200;

export type SaveOutcome =
  | { kind: 'saved'; campaign: Campaign }
  | { kind: 'unchanged'; campaign: Campaign }
  | { kind: 'slug_taken' }
  | { kind: 'currency_locked'; currency: string };

/** What the audit log keeps of a campaign: its editable fields, dates as ISO strings. */
const EDITABLE = ['title', 'slug', 'storyMarkdown', 'heroImageUrl', 'currency', 'goalAmount', 'startingAmount', 'presetAmounts',
  'defaultFrequency', 'startsAt', 'endsAt', 'active', 'holdComments'] as const;
type Editable = (typeof EDITABLE)[number];

function comparable(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return value.trim();
  return value;
}

/** Campaigns in the console: list, create and edit. Money totals are only ever read here (kept totals). */
export class AdminCampaignsService {
  constructor(private readonly dataSource: DataSource) {}

  async list(): Promise<CampaignListRow[]> {
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT c.slug, c.title, c.active, c.currency, c.goal_amount, c.starting_amount, c.starts_at, c.ends_at,
              COALESCE(t.raised_amount, 0) AS raised
         FROM campaigns c LEFT JOIN campaign_totals t ON t.campaign_id = c.id
        ORDER BY c.created_at DESC, c.id
        LIMIT $1`,
      [CAMPAIGN_LIST_LIMIT],
    );
    return rows.map((r) => ({
      slug: r.slug as string,
      title: r.title as string,
      active: r.active as boolean,
      currency: (r.currency as string).trim(),
      goalAmount: Number(r.goal_amount),
      startingAmount: Number(r.starting_amount),
      raised: Number(r.raised),
      startsAt: r.starts_at as Date,
      endsAt: r.ends_at as Date | null,
    }));
  }

  find(slug: string): Promise<Campaign | null> {
    return findCampaignBySlug(this.dataSource, slug);
  }

  async create(data: CampaignData, adminId: string): Promise<SaveOutcome> {
    try {
      const campaign = await createCampaign(this.dataSource, data, (tx, created) =>
        audit(tx, { adminId, action: 'campaign.create', subjectType: 'campaign', subjectId: created.id, after: snapshot(created, EDITABLE) }));
      return { kind: 'saved', campaign };
    } catch (err) {
      if (err instanceof CampaignExistsError || isUniqueViolation(err)) return { kind: 'slug_taken' };
      throw err;
    }
  }

  /**
   * Saves the console's edit of a campaign. Only the campaign row changes: the ledger and its kept
   * totals never move here (a new goal or date changes what the page says, not what was given).
   */
  async update(slug: string, data: CampaignData, adminId: string): Promise<SaveOutcome | null> {
    try {
      return await this.dataSource.transaction(async (tx) => {
        const campaign = await tx.findOne(Campaign, { where: { slug }, lock: { mode: 'pessimistic_write' } });
        if (!campaign) return null;
        const changed = EDITABLE.filter((key) => JSON.stringify(comparable(campaign[key])) !== JSON.stringify(comparable(data[key])));
        if (changed.length === 0) return { kind: 'unchanged', campaign };
        if (changed.includes('slug') && (await tx.exists(Campaign, { where: { slug: data.slug } }))) return { kind: 'slug_taken' };
        if (changed.includes('currency') && (await hasGivingStarted(tx, campaign.id))) return { kind: 'currency_locked', currency: campaign.currency.trim() };

        const before = snapshot(campaign, changed);
        for (const key of changed) (campaign as unknown as Record<Editable, unknown>)[key] = data[key];
        await tx.save(campaign);
        const after: Record<string, unknown> = snapshot(campaign, changed);
        if (changed.includes('holdComments') && campaign.holdComments) after.commentsApprovedAsShown = await approveShownComments(tx, campaign.id);
        await audit(tx, { adminId, action: 'campaign.update', subjectType: 'campaign', subjectId: campaign.id, before, after });
        return { kind: 'saved', campaign };
      });
    } catch (err) {
      if (isUniqueViolation(err)) return { kind: 'slug_taken' };
      throw err;
    }
  }
}

/**
 * Whether anyone has started giving: a gift in the ledger, or a checkout (or plan) begun in the
 * campaign's currency. The ledger refuses entries in another currency than the campaign's, so its
 * currency is fixed from then on.
 */
async function hasGivingStarted(tx: EntityManager, campaignId: string): Promise<boolean> {
  const [row] = await tx.query(
    `SELECT EXISTS (SELECT 1 FROM ledger_entries WHERE campaign_id = $1)
         OR EXISTS (SELECT 1 FROM checkout_intents WHERE campaign_id = $1) AS started`,
    [campaignId],
  );
  return row.started === true;
}

/**
 * Holding comments applies to comments from now on: those already on the wall were public, so they
 * count as approved and stay (hiding them all at once would surprise donors and admins alike).
 */
async function approveShownComments(tx: EntityManager, campaignId: string): Promise<number> {
  const [{ approved }] = await tx.query(
    `WITH approved AS (
       UPDATE checkout_intents SET comment_approved_at = now()
        WHERE campaign_id = $1 AND status = 'completed' AND comment IS NOT NULL
          AND comment_hidden_at IS NULL AND comment_approved_at IS NULL
       RETURNING 1)
     SELECT count(*)::int AS approved FROM approved`,
    [campaignId],
  );
  return approved;
}

function snapshot(campaign: Campaign, keys: readonly Editable[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((key) => [key, comparable(campaign[key])]));
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  return e?.code === '23505' || e?.driverError?.code === '23505';
}
