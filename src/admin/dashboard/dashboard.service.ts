import type { DataSource } from 'typeorm';
import { Campaign } from '../../campaigns/campaign.entity';
import { findCampaignBySlug } from '../../campaigns/campaign.service';
import { ShortCache } from '../../campaigns/short-cache';
import { NotFoundError } from '../../web/errors';
import { campaignStats, type CampaignStats } from './campaign-stats';

/**
 * The dashboard's reads. A campaign's stats walk up to a million ledger rows (about 0.3 s), so they
 * are kept for a few seconds per instance, single-flight: many admins watching the same campaign
 * cost one computation every few seconds, and the page's 15-second refresh still sees new gifts.
 */
export class DashboardService {
  private readonly stats: ShortCache<CampaignStats>;

  constructor(private readonly dataSource: DataSource, ttlMs = 5_000) {
    this.stats = new ShortCache<CampaignStats>(ttlMs);
  }

  /** The campaign the console opens on: the active one running now that started last, else the latest active one. */
  async currentCampaignSlug(now = new Date()): Promise<string | null> {
    const [row]: { slug: string }[] = await this.dataSource.query(
      `SELECT slug FROM campaigns WHERE active
        ORDER BY (starts_at <= $1 AND (ends_at IS NULL OR ends_at > $1)) DESC, starts_at DESC, created_at DESC
        LIMIT 1`,
      [now],
    );
    return row?.slug ?? null;
  }

  async statsFor(slug: string): Promise<CampaignStats> {
    const campaign: Campaign | null = await findCampaignBySlug(this.dataSource, slug);
    if (!campaign) throw new NotFoundError('We could not find that campaign.');
    return this.stats.get(campaign.id, () => campaignStats(this.dataSource, campaign));
  }
}
