import { formatMoney } from '../../money';
import { giftKind } from '../gifts/gift-list';
import type { CampaignStats, LatestGift } from './campaign-stats';

const UTC_DATE_TIME = new Intl.DateTimeFormat('en-GB', {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', hourCycle: 'h23',
});
const dateTime = (iso: string) => `${UTC_DATE_TIME.format(new Date(iso))} UTC`;

/** The gift list's kind words, and where it was given when not online (the script says the same). */
const latestGiftKind = (gift: LatestGift): string => (gift.source === 'offline' ? `${giftKind(gift)}, offline` : giftKind(gift));

/** What the pace says in words, for the page and the script alike (stats.json carries the numbers). */
export function paceNote(stats: CampaignStats): string {
  const { pace } = stats;
  switch (pace.state) {
    case 'no_end_date': return 'This campaign has no end date: no days left or amount per day to show.';
    case 'ended': return `This campaign ended on ${dateTime(stats.campaign.endsAt!)}: nothing more is needed per day.`;
    case 'not_started': return `This campaign starts on ${dateTime(stats.campaign.startsAt)}.`;
    default:
      if (pace.remaining === 0) return 'The goal is met.';
      return pace.daysLeft === 1 ? 'Last day: all that remains is needed today.' : `Spread over the ${pace.daysLeft} days left.`;
  }
}

/** "the last day", "the last 7 days", "the last 3 hours" (a campaign younger than a day): the pace window in words. */
export function paceWindowWords(days: number): string {
  if (days < 1) {
    const hours = Math.max(1, Math.round(days * 24));
    return hours === 1 ? 'the last hour' : `the last ${hours} hours`;
  }
  return days === 1 ? 'the last day' : `the last ${days} days`;
}

// Kept stats are one object for all the admins who load them meanwhile: formatted once (400 days of
// series cost about 2 ms to format).
const models = new WeakMap<CampaignStats, ReturnType<typeof formatted>>();

/** The dashboard page's model: the stats, formatted. No arithmetic here beyond formatting. */
export function dashboardPageModel(stats: CampaignStats) {
  let model = models.get(stats);
  if (!model) {
    model = formatted(stats);
    models.set(stats, model);
  }
  return model;
}

function formatted(stats: CampaignStats) {
  const money = (minor: number) => formatMoney(minor, stats.campaign.currency);
  const maybeMoney = (minor: number | null) => (minor === null ? null : money(minor));
  const { pace } = stats;
  return {
    title: `${stats.campaign.title} · Dashboard`,
    section: 'dashboard' as const,
    scripts: ['/assets/vendor/chart.js/chart.umd.min.js', '/assets/admin-dashboard.js'],
    slug: stats.campaign.slug,
    campaignTitle: stats.campaign.title,
    currencyCode: stats.campaign.currency.toUpperCase(),
    statsUrl: `/admin/campaigns/${stats.campaign.slug}/stats.json`,
    computedAt: dateTime(stats.computedAt),
    startsAt: dateTime(stats.campaign.startsAt),
    endsAt: stats.campaign.endsAt ? dateTime(stats.campaign.endsAt) : null,
    ended: pace.state === 'ended',
    raised: money(stats.raised),
    goal: money(stats.campaign.goal),
    percent: stats.percent,
    barPercent: Math.min(100, stats.percent),
    startingAmount: stats.campaign.startingAmount > 0 ? money(stats.campaign.startingAmount) : null,
    ledgerNet: money(stats.ledgerNet),
    gifts: stats.gifts,
    donors: stats.donors,
    averageGift: maybeMoney(stats.averageGift),
    medianGift: maybeMoney(stats.medianGift),
    oneOff: { amount: money(stats.oneOff.amount), gifts: stats.oneOff.gifts },
    recurring: { amount: money(stats.recurring.amount), gifts: stats.recurring.gifts },
    newPlans: {
      count: stats.newPlans.count,
      monthlyCount: stats.newPlans.monthly.count,
      annualCount: stats.newPlans.annual.count,
      monthlyValue: money(stats.newPlans.monthlyValue),
    },
    refunds: { refunded: money(stats.refunds.refunded), disputesLost: money(stats.refunds.disputesLost), total: money(stats.refunds.total) },
    daysLeft: pace.daysLeft,
    remaining: money(pace.remaining),
    perDayNeeded: maybeMoney(pace.perDayNeeded),
    paceNote: paceNote(stats),
    projectedTotal: maybeMoney(pace.projectedTotal),
    paceWindowNet: money(pace.paceWindowNet),
    paceWindow: paceWindowWords(pace.paceWindowDays),
    bucketLabel: stats.series.bucket === 'hour' ? 'Money per hour' : 'Money per day',
    series: stats.series.points.map((p) => ({ at: dateTime(p.at), net: money(p.net), cumulative: money(p.cumulative) })),
    latestGifts: stats.latestGifts.map((g) => ({
      name: g.name,
      amount: money(g.amount),
      // An offline gift at nothing was voided (they are never refunded); the script words it the same way.
      netNote: g.net === g.amount ? null : g.net === 0 && g.source === 'offline' ? 'voided' : `${money(g.net)} after refunds`,
      kind: latestGiftKind(g),
      at: dateTime(g.occurredAt),
    })),
  };
}
