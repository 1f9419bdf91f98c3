import type { DataSource, EntityManager } from 'typeorm';
import type { Campaign, Frequency } from '../../campaigns/campaign.entity';
import { campaignState, percentOfGoal, raisedWithStartingAmount, type CampaignState } from '../../campaigns/campaign.service';
import { keptTotals } from '../../ledger/ledger.service';
import { HOUR_MS, DAY_MS, monthlyShareOfAnnual, paceOf, paceWindowStart, seriesBuckets, type Bucket, type Pace } from './pace';

/** The campaign dashboard's figures: one plain object, for the page and for stats.json alike. Money in integer minor units. */
export interface CampaignStats {
  campaign: { slug: string; title: string; currency: string; goal: number; startingAmount: number; startsAt: string; endsAt: string | null; active: boolean };
  state: CampaignState;
  /** When the figures were computed (ISO, UTC). */
  computedAt: string;
  /** startingAmount + ledgerNet. */
  raised: number;
  /** The ledger's net: gifts less refunds and lost disputes, plus refund reversals. */
  ledgerNet: number;
  /** Whole percent of the goal, rounded down; may pass 100. */
  percent: number;
  /** Gifts whose net is still above zero. */
  gifts: number;
  /** Donors with at least one gift that still counts. */
  donors: number;
  /** ledgerNet / gifts, rounded half up; null without gifts. */
  averageGift: number | null;
  /** The middle gift net (percentile_disc(0.5) over the nets of gifts that still count); null without gifts. */
  medianGift: number | null;
  /** Gifts once (and offline gifts without a frequency) vs monthly and annual plan payments: net money and gifts that still count. */
  oneOff: { amount: number; gifts: number };
  recurring: { amount: number; gifts: number };
  /** Plans whose first payment was made in this campaign and still counts, at their first payment's amount. */
  newPlans: { count: number; monthly: { count: number; amount: number }; annual: { count: number; amount: number }; monthlyValue: number };
  /** Money taken back: refunds (less reversals of refunds) and lost disputes, as positive amounts. */
  refunds: { refunded: number; disputesLost: number; total: number };
  pace: Pace;
  /** Net money per bucket (UTC) and the running total including the starting amount, against the goal. */
  series: { bucket: Bucket; goal: number; points: { at: string; net: number; cumulative: number }[] };
  latestGifts: LatestGift[];
}

export interface LatestGift {
  /** The name the donor chose to show; "Anonymous" when they asked to be. */
  name: string;
  amount: number;
  /** Net after refunds and lost disputes. */
  net: number;
  frequency: Frequency | null;
  renewal: boolean;
  source: 'stripe' | 'offline';
  occurredAt: string;
}

const LATEST_GIFTS = 20;

/**
 * Gifts by (frequency, renewal, net), from the gifts grouped by amount (an index-only walk of
 * ledger_entries_campaign_gift_mix_idx) with the few adjusted gifts moved from their amount to
 * their net: no per-gift join over a million rows. Then the split, the new plans and the median
 * (the first net whose running count reaches half, which is exactly percentile_disc(0.5)).
 */
const GIFT_MIX_QUERY = `
  WITH adjusted AS (
    SELECT g.frequency, g.renewal, g.amount, g.amount + a.adjusted AS net
      FROM (SELECT gift_entry_id, SUM(amount) AS adjusted FROM ledger_entries
             WHERE campaign_id = $1 AND kind <> 'gift' GROUP BY gift_entry_id) a
      JOIN ledger_entries g ON g.id = a.gift_entry_id
  ), by_amount AS (
    SELECT frequency, renewal, amount, COUNT(*) AS n FROM ledger_entries
     WHERE campaign_id = $1 AND kind = 'gift' GROUP BY frequency, renewal, amount
  ), by_net AS (
    SELECT frequency IN ('monthly', 'annual') AS recurring, net, SUM(n) AS n FROM (
      SELECT frequency, amount AS net, n FROM by_amount
      UNION ALL SELECT frequency, amount, -1 FROM adjusted
      UNION ALL SELECT frequency, net, 1 FROM adjusted) moved
     GROUP BY 1, 2
  ), counted AS (
    SELECT net, SUM(SUM(n)) OVER (ORDER BY net) AS running FROM by_net WHERE net > 0 GROUP BY net
  ), plans AS (
    SELECT frequency, SUM(n) AS n, SUM(n * amount) AS amount FROM (
      SELECT frequency, amount, n FROM by_amount WHERE NOT renewal AND frequency IN ('monthly', 'annual')
      UNION ALL SELECT frequency, amount, -1 FROM adjusted WHERE NOT renewal AND frequency IN ('monthly', 'annual') AND net <= 0) p
     GROUP BY frequency
  )
  SELECT
    (SELECT COALESCE(SUM(n * net) FILTER (WHERE recurring IS NOT TRUE), 0) FROM by_net)::bigint AS one_off_amount,
    (SELECT COALESCE(SUM(n) FILTER (WHERE recurring IS NOT TRUE AND net > 0), 0) FROM by_net)::bigint AS one_off_gifts,
    (SELECT COALESCE(SUM(n * net) FILTER (WHERE recurring), 0) FROM by_net)::bigint AS recurring_amount,
    (SELECT COALESCE(SUM(n) FILTER (WHERE recurring AND net > 0), 0) FROM by_net)::bigint AS recurring_gifts,
    (SELECT net FROM counted WHERE running * 2 >= (SELECT MAX(running) FROM counted) ORDER BY net LIMIT 1)::bigint AS median,
    (SELECT COALESCE(SUM(n), 0) FROM plans WHERE frequency = 'monthly')::bigint AS monthly_plans,
    (SELECT COALESCE(SUM(amount), 0) FROM plans WHERE frequency = 'monthly')::bigint AS monthly_plans_amount,
    (SELECT COALESCE(SUM(n), 0) FROM plans WHERE frequency = 'annual')::bigint AS annual_plans,
    (SELECT COALESCE(SUM(amount), 0) FROM plans WHERE frequency = 'annual')::bigint AS annual_plans_amount`;

/**
 * Net money per bucket: one short index-only range per bucket, no sort of a million rows. Times are
 * compared as UTC wall-clock times, the expression ledger_entries_campaign_time_amount_idx holds
 * (the same order as the instants).
 */
const SERIES_QUERY = `
  SELECT b.at, (SELECT COALESCE(SUM(e.amount), 0) FROM ledger_entries e
                 WHERE e.campaign_id = $1
                   AND (e.occurred_at AT TIME ZONE 'UTC') >= (b.at AT TIME ZONE 'UTC')
                   AND (e.occurred_at AT TIME ZONE 'UTC') < ((b.at + $4::interval) AT TIME ZONE 'UTC'))::bigint AS net
    FROM generate_series($2::timestamptz, $3::timestamptz, $4::interval) b(at)
   ORDER BY b.at`;

/** Net money in [from, to), a range on the same index ('-infinity' for an open start). */
const NET_BETWEEN_QUERY = `
  SELECT COALESCE(SUM(amount), 0)::bigint AS net FROM ledger_entries
   WHERE campaign_id = $1
     AND (occurred_at AT TIME ZONE 'UTC') >= ($2::timestamptz AT TIME ZONE 'UTC')
     AND (occurred_at AT TIME ZONE 'UTC') < ($3::timestamptz AT TIME ZONE 'UTC')`;

const LATEST_ENTRY_QUERY = `SELECT MAX(occurred_at) AS at FROM ledger_entries WHERE campaign_id = $1`;

const ADJUSTMENTS_QUERY = `
  SELECT kind, COALESCE(SUM(amount), 0)::bigint AS amount FROM ledger_entries
   WHERE campaign_id = $1 AND kind <> 'gift' GROUP BY kind`;

/** The latest gifts, walking ledger_entries_campaign_idx down from now; each looks up its intent and donor by key. */
const LATEST_GIFTS_QUERY = `
  SELECT g.amount, g.frequency, g.renewal, g.source, g.occurred_at, ci.donor_name, ci.anonymous, d.name AS donor_record_name,
         g.amount + COALESCE((SELECT SUM(a.amount) FROM ledger_entries a WHERE a.gift_entry_id = g.id), 0) AS net
    FROM (SELECT id, amount, frequency, renewal, source, occurred_at, checkout_intent_id, donor_id FROM ledger_entries
           WHERE campaign_id = $1 AND kind = 'gift' ORDER BY occurred_at DESC LIMIT $2) g
    LEFT JOIN checkout_intents ci ON ci.id = g.checkout_intent_id
    LEFT JOIN donors d ON d.id = g.donor_id
   ORDER BY g.occurred_at DESC`;

/**
 * Everything the dashboard shows about a campaign at `now`. Raised, gifts and donors come from the
 * kept totals (verified equal to the ledger); everything else from the ledger, in a REPEATABLE READ
 * snapshot so all figures describe the same moment.
 */
export async function campaignStats(dataSource: DataSource | EntityManager, campaign: Campaign, now = new Date()): Promise<CampaignStats> {
  const manager = 'manager' in dataSource ? dataSource.manager : dataSource;
  return manager.transaction('REPEATABLE READ', async (tx) => {
    // The per-bucket subplans look costly to the planner, which would JIT-compile them for ~150 ms: more than they take to run.
    await tx.query('SET LOCAL jit = off');
    const id = campaign.id;
    const one = async <T>(sql: string, params: unknown[]): Promise<T> => (await tx.query(sql, params))[0] as T;
    const totals = await keptTotals(tx, id);
    const mix = await one<Record<string, string | null>>(GIFT_MIX_QUERY, [id]);
    const adjustments: { kind: string; amount: string }[] = await tx.query(ADJUSTMENTS_QUERY, [id]);
    const windowNet = await one<{ net: string }>(NET_BETWEEN_QUERY, [id, paceWindowStart(campaign.startsAt, now), now]);
    const latestEntry = await one<{ at: Date | null }>(LATEST_ENTRY_QUERY, [id]);
    const series = await seriesOf(tx, campaign, now, latestEntry.at ? new Date(latestEntry.at) : null);
    const latest: LatestGiftRow[] = await tx.query(LATEST_GIFTS_QUERY, [id, LATEST_GIFTS]);

    const num = (v: string | null | undefined) => Number(v ?? 0);
    const raised = raisedWithStartingAmount(campaign, totals.raised);
    const adjusted = (kind: string) => -num(adjustments.find((a) => a.kind === kind)?.amount);
    const refunded = adjusted('refund') + adjusted('refund_reversal');
    const disputesLost = adjusted('dispute_lost');
    const monthly = { count: num(mix.monthly_plans), amount: num(mix.monthly_plans_amount) };
    const annual = { count: num(mix.annual_plans), amount: num(mix.annual_plans_amount) };
    return {
      campaign: {
        slug: campaign.slug, title: campaign.title, currency: campaign.currency, goal: campaign.goalAmount, startingAmount: campaign.startingAmount,
        startsAt: campaign.startsAt.toISOString(), endsAt: campaign.endsAt?.toISOString() ?? null, active: campaign.active,
      },
      state: campaignState(campaign, now),
      computedAt: now.toISOString(),
      raised,
      ledgerNet: totals.raised,
      percent: percentOfGoal(raised, campaign.goalAmount),
      gifts: totals.gifts,
      donors: totals.donors,
      averageGift: totals.gifts > 0 ? Math.round(totals.raised / totals.gifts) : null,
      medianGift: mix.median === null ? null : num(mix.median),
      oneOff: { amount: num(mix.one_off_amount), gifts: num(mix.one_off_gifts) },
      recurring: { amount: num(mix.recurring_amount), gifts: num(mix.recurring_gifts) },
      newPlans: { count: monthly.count + annual.count, monthly, annual, monthlyValue: monthly.amount + monthlyShareOfAnnual(annual.amount) },
      refunds: { refunded, disputesLost, total: refunded + disputesLost },
      pace: paceOf({ goal: campaign.goalAmount, raised, startsAt: campaign.startsAt, endsAt: campaign.endsAt, now, paceWindowNet: num(windowNet.net) }),
      series,
      latestGifts: latest.map(latestGift),
    };
  });
}

/**
 * From the campaign's start to now (or its end), extended to its latest entry (a refund after the
 * end), so the running total ends at exactly `raised`. Entries before the first bucket start it.
 */
async function seriesOf(tx: EntityManager, campaign: Campaign, now: Date, latestEntryAt: Date | null): Promise<CampaignStats['series']> {
  const lastMoment = campaign.endsAt && campaign.endsAt.getTime() <= now.getTime() ? new Date(campaign.endsAt.getTime() - 1) : now;
  const until = latestEntryAt && latestEntryAt.getTime() > lastMoment.getTime() ? latestEntryAt : lastMoment;
  const buckets = seriesBuckets(campaign.startsAt, campaign.endsAt, now, until);
  const goal = campaign.goalAmount;
  if (!buckets) return { bucket: 'day', goal, points: [] };
  const size = buckets.bucket === 'hour' ? HOUR_MS : DAY_MS;
  const [before] = await tx.query(NET_BETWEEN_QUERY, [campaign.id, '-infinity', buckets.from]);
  const rows: { at: Date; net: string }[] = await tx.query(SERIES_QUERY, [campaign.id, buckets.from, buckets.to, `${size / 1000} seconds`]);
  let cumulative = campaign.startingAmount + Number(before.net);
  return {
    bucket: buckets.bucket,
    goal,
    points: rows.map((r) => {
      cumulative += Number(r.net);
      return { at: new Date(r.at).toISOString(), net: Number(r.net), cumulative };
    }),
  };
}

interface LatestGiftRow {
  amount: string; frequency: Frequency | null; renewal: boolean; source: 'stripe' | 'offline'; occurred_at: Date;
  donor_name: string | null; anonymous: boolean | null; donor_record_name: string | null; net: string;
}

/** A gift made through the form shows the name given there (or Anonymous, as asked); an offline gift its donor's name. */
function latestGift(row: LatestGiftRow): LatestGift {
  const madeOnForm = row.anonymous !== null;
  const name = madeOnForm ? (row.anonymous ? 'Anonymous' : row.donor_name) : row.donor_record_name;
  return {
    name: name ?? 'No name given',
    amount: Number(row.amount),
    net: Number(row.net),
    frequency: row.frequency,
    renewal: row.renewal,
    source: row.source,
    occurredAt: new Date(row.occurred_at).toISOString(),
  };
}
