import { longDate } from '../dates';
import type { DataSource } from 'typeorm';
import type { FieldErrors } from '../donations/donation-form';
import { formatMoney, minorToMajorString } from '../money';
import { FREQUENCIES, type Campaign, type Frequency } from './campaign.entity';
import { liveCampaignReads, type CampaignReads } from './campaign-reads';
import { campaignState, progressFromTotals, renderStory, type CampaignProgress, type CampaignState } from './campaign.service';

const FREQUENCY_LABELS: Record<Frequency, string> = { once: 'Once', monthly: 'Monthly', annual: 'Annual' };
const CLOSED_MESSAGES: Record<Exclude<CampaignState, 'open'>, string> = {
  inactive: 'This campaign is not accepting gifts right now.',
  not_started: 'This campaign has not started yet.',
  ended: 'This campaign has ended. Thank you to everyone who gave!',
};

// Built once: constructing an Intl formatter costs far more than formatting with one.
const WALL_DATE = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });

// A cached campaign is the same object for about a second: its story is rendered once for all its views.
const storyHtml = new WeakMap<Campaign, string>();

function renderedStory(campaign: Campaign): string {
  let html = storyHtml.get(campaign);
  if (html === undefined) {
    html = renderStory(campaign.storyMarkdown);
    storyHtml.set(campaign, html);
  }
  return html;
}

export interface DonateFormInput {
  values?: Record<string, unknown>;
  errors?: FieldErrors;
  formError?: string;
}

/** The progress box shared by the campaign and thank-you pages. */
export function progressView(campaign: Campaign, progress: CampaignProgress) {
  return {
    raised: formatMoney(progress.raised, campaign.currency),
    goal: formatMoney(progress.goal, campaign.currency),
    startingAmount: progress.startingAmount > 0 ? formatMoney(progress.startingAmount, campaign.currency) : null,
    percent: progress.percent,
    barPercent: Math.min(100, progress.percent),
    donors: progress.donors,
    donorsLabel: progress.donors === 1 ? 'donor' : 'donors',
    daysLeft: progress.daysLeft,
    daysLeftLabel: progress.daysLeft === 1 ? 'day left' : 'days left',
    endsOn: campaign.endsAt ? longDate(campaign.endsAt) : null,
  };
}

/** Everything the campaign page shows, computed here so the template only lays it out. */
export async function campaignPageModel(
  dataSource: DataSource,
  campaign: Campaign,
  opts: { fees: { percentBps: number; fixedMinor: number }; form?: DonateFormInput; now?: Date; reads?: CampaignReads },
) {
  const { fees, form = {}, now = new Date(), reads = liveCampaignReads(dataSource) } = opts;
  const [totals, wall] = await Promise.all([reads.totals(campaign.id), reads.wall(campaign.id)]);
  const progress = progressFromTotals(campaign, totals, now);
  const values = form.values ?? {};
  const str = (key: string) => (typeof values[key] === 'string' ? (values[key] as string) : '');
  const state = campaignState(campaign, now);
  const presetValues = campaign.presetAmounts.map((minor) => minorToMajorString(minor, campaign.currency));
  const chosenAmount = str('amount');
  // A typed amount posted as `amount` (API clients) shows in the Other field like one typed there.
  const typedAmount = chosenAmount !== '' && chosenAmount !== 'other' && !presetValues.includes(chosenAmount);
  const chosenFrequency = str('frequency') || campaign.defaultFrequency;
  const errors = form.errors ?? {};

  return {
    title: campaign.title,
    campaign: {
      slug: campaign.slug,
      title: campaign.title,
      heroImageUrl: campaign.heroImageUrl,
      commentsHeld: campaign.holdComments,
      storyHtml: renderedStory(campaign),
      currencyCode: campaign.currency.toUpperCase(),
    },
    progress: progressView(campaign, progress),
    open: state === 'open',
    closedMessage: state === 'open' ? null : CLOSED_MESSAGES[state],
    form: {
      presets: presetValues.map((value, i) => ({
        value,
        label: formatMoney(campaign.presetAmounts[i], campaign.currency),
        checked: value === chosenAmount || (!chosenAmount && i === Math.min(1, presetValues.length - 1)),
        id: `amount-${i}`,
      })),
      otherChecked: typedAmount || chosenAmount === 'other',
      otherValue: typedAmount ? chosenAmount : str('amount_other'),
      frequencies: FREQUENCIES.map((value) => ({ value, label: FREQUENCY_LABELS[value], checked: value === chosenFrequency, id: `frequency-${value}` })),
      email: str('email'),
      name: str('name'),
      comment: str('comment'),
      dedication: str('dedication'),
      anonymous: str('anonymous') !== '',
      coverFees: str('cover_fees') !== '',
      newsletter: str('newsletter') !== '',
      // "2.9% + $0.30": what cover-fees adds, so nobody is surprised at checkout.
      feeFormula: [fees.percentBps ? `${fees.percentBps / 100}%` : '', fees.fixedMinor ? formatMoney(fees.fixedMinor, campaign.currency) : '']
        .filter(Boolean).join(' + '),
      errors,
      hasErrors: Object.keys(errors).length > 0 || Boolean(form.formError),
      formError: form.formError ?? null,
    },
    wall: wall.map((w) => ({
      name: w.displayName ?? 'Anonymous',
      // A campaign that holds comments shows one once an admin approved it.
      comment: campaign.holdComments && !w.commentApproved ? null : w.comment,
      when: WALL_DATE.format(w.occurredAt),
    })),
  };
}
