import type { DataSource } from 'typeorm';
import { keptTotals, type Totals } from '../ledger/ledger.service';
import type { Campaign } from './campaign.entity';
import { findCampaignBySlug, recentPublicGifts, type WallEntry } from './campaign.service';
import { ShortCache } from './short-cache';

/** What the public pages read about a campaign. */
export interface CampaignReads {
  campaign(slug: string): Promise<Campaign | null>;
  totals(campaignId: string): Promise<Totals>;
  wall(campaignId: string): Promise<WallEntry[]>;
}

/** Straight from the database: for pages that must show the latest state (a form sent back with errors). */
export function liveCampaignReads(dataSource: DataSource): CampaignReads {
  return {
    campaign: (slug) => findCampaignBySlug(dataSource, slug),
    totals: (campaignId) => keptTotals(dataSource.manager, campaignId),
    wall: (campaignId) => recentPublicGifts(dataSource, campaignId),
  };
}

/**
 * The same reads kept for about a second per instance: a popular page then costs the database a
 * few queries a second however many people load it, and a gift still shows within a second.
 */
export function cachedCampaignReads(dataSource: DataSource, ttlMs = 1_000): CampaignReads {
  const live = liveCampaignReads(dataSource);
  const campaigns = new ShortCache<Campaign | null>(ttlMs);
  const totals = new ShortCache<Totals>(ttlMs);
  const walls = new ShortCache<WallEntry[]>(ttlMs);
  return {
    campaign: (slug) => campaigns.get(slug, () => live.campaign(slug)),
    totals: (campaignId) => totals.get(campaignId, () => live.totals(campaignId)),
    wall: (campaignId) => walls.get(campaignId, () => live.wall(campaignId)),
  };
}
