import type { DataSource } from 'typeorm';
import { Campaign } from '../../campaigns/campaign.entity';
import { findCampaignBySlug } from '../../campaigns/campaign.service';
import { NotFoundError } from '../../web/errors';
import { campaignStats, type CampaignStats } from './campaign-stats';

interface KeptStats {
  /** What the stats were computed from: the campaign's kept totals and its settings, as they stood. */
  fingerprint: string;
  startedAt: number;
  stats: Promise<CampaignStats>;
}

/**
 * The dashboard's reads. A campaign's stats walk up to a million ledger rows (about 0.3 s), so an
 * instance keeps the last ones per campaign and reuses them while nothing moved: the campaign's kept
 * totals row (one indexed read) changes with every ledger entry, so a cheque just recorded shows at
 * once. While money moves all the time (a surge), they are recomputed at most once a second,
 * shared by every admin watching; when nothing moves, at most every `maxAgeMs` (time-based figures).
 */
export class DashboardService {
  private readonly kept = new Map<string, KeptStats>();

  constructor(private readonly dataSource: DataSource, private readonly opts = { minIntervalMs: 1_000, maxAgeMs: 15_000 }) {}

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
    const [totals]: { fingerprint: string }[] = await this.dataSource.query(
      `SELECT concat_ws(':', raised_amount, gift_count, donor_count, updated_at) AS fingerprint FROM campaign_totals WHERE campaign_id = $1`,
      [campaign.id],
    );
    const fingerprint = `${totals?.fingerprint ?? 'none'}:${campaign.updatedAt.getTime()}`;
    const now = Date.now();
    const last = this.kept.get(campaign.id);
    if (last) {
      const age = now - last.startedAt;
      if (age < this.opts.minIntervalMs || (last.fingerprint === fingerprint && age < this.opts.maxAgeMs)) return last.stats;
    }
    const stats = campaignStats(this.dataSource, campaign);
    this.kept.set(campaign.id, { fingerprint, startedAt: now, stats });
    stats.catch(() => {
      if (this.kept.get(campaign.id)?.stats === stats) this.kept.delete(campaign.id);
    });
    return stats;
  }
}
