import type { ZodIssue } from 'zod';
import { FREQUENCIES, type Campaign, type Frequency } from '../../campaigns/campaign.entity';
import { campaignInputSchema, MAX_PRESET_AMOUNTS, type CampaignData } from '../../campaigns/campaign.service';
import { parseGiftAmount, plainText } from '../../donations/donation-form';
import { isSupportedCurrency, minorToMajorString, parseMajorAmount } from '../../money';

/** The form's fields, as named in its inputs. */
export const CAMPAIGN_FIELDS = [
  'title', 'slug', 'story', 'hero_image_url', 'goal', 'starting_amount', 'currency', 'starts_at', 'ends_at',
  'presets', 'default_frequency', 'active', 'hold_comments',
] as const;
export type CampaignField = (typeof CAMPAIGN_FIELDS)[number];
export type CampaignFormValues = Record<CampaignField, string>;
export type CampaignFieldErrors = Partial<Record<CampaignField, string>>;

export type CampaignFormResult =
  | { ok: true; data: CampaignData; values: CampaignFormValues }
  | { ok: false; errors: CampaignFieldErrors; values: CampaignFormValues };

/** Where each schema path shows its message. */
const FIELD_OF: Record<string, CampaignField> = {
  title: 'title', slug: 'slug', storyMarkdown: 'story', heroImageUrl: 'hero_image_url', goalAmount: 'goal',
  startingAmount: 'starting_amount', currency: 'currency', startsAt: 'starts_at', endsAt: 'ends_at',
  presetAmounts: 'presets', defaultFrequency: 'default_frequency', active: 'active', holdComments: 'hold_comments',
};

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MIN_YEAR = 2000;
const MAX_YEAR = 2100;
const isoDay = (date: Date) => date.toISOString().slice(0, 10);

/** The form filled in with a campaign as stored (amounts in major units, dates as UTC days). */
export function campaignFormValues(campaign: Campaign): CampaignFormValues {
  const major = (minor: number) => minorToMajorString(minor, campaign.currency);
  return {
    title: campaign.title,
    slug: campaign.slug,
    story: campaign.storyMarkdown,
    hero_image_url: campaign.heroImageUrl ?? '',
    goal: major(campaign.goalAmount),
    starting_amount: major(campaign.startingAmount),
    currency: campaign.currency.trim(),
    starts_at: isoDay(campaign.startsAt),
    ends_at: campaign.endsAt ? isoDay(campaign.endsAt) : '',
    presets: campaign.presetAmounts.map(major).join(', '),
    default_frequency: campaign.defaultFrequency,
    active: campaign.active ? 'yes' : '',
    hold_comments: campaign.holdComments ? 'yes' : '',
  };
}

/** A new campaign's form: opens today, in US dollars, gifts once by default. */
export function newCampaignFormValues(now = new Date()): CampaignFormValues {
  return {
    title: '', slug: '', story: '', hero_image_url: '', goal: '', starting_amount: '0', currency: 'usd',
    starts_at: isoDay(now), ends_at: '', presets: '10, 25, 50', default_frequency: 'once', active: 'yes', hold_comments: '',
  };
}

/** The text of each field as posted (a repeated or nested field counts as empty; it gets its message below). */
export function postedValues(body: Record<string, unknown>): CampaignFormValues {
  const values = {} as CampaignFormValues;
  for (const field of CAMPAIGN_FIELDS) {
    // The story keeps its own line breaks and indentation: markdown needs them.
    const raw = field === 'story' ? (typeof body.story === 'string' ? body.story.replace(/\r\n/g, '\n') : '') : plainText(body[field]);
    values[field] = raw ?? '';
  }
  return values;
}

/**
 * Reads the campaign form into the campaign schema's input, with a message beside each field that
 * is wrong. `current` is the campaign being edited: a date left as it was keeps its exact time.
 */
export function parseCampaignForm(body: Record<string, unknown>, current?: Campaign): CampaignFormResult {
  const values = postedValues(body);
  const errors: CampaignFieldErrors = {};
  const currency = values.currency.toLowerCase();
  const knownCurrency = isSupportedCurrency(currency);
  if (!knownCurrency) errors.currency = 'Choose one of the listed currencies.';

  const amount = (field: 'goal' | 'starting_amount', emptyMeans: number | null): number | undefined => {
    const text = values[field];
    if (!text) {
      if (emptyMeans === null) errors[field] = 'Enter an amount, like 50000.';
      return emptyMeans ?? undefined;
    }
    if (!knownCurrency) return undefined;
    const parsed = parseMajorAmount(text, currency);
    if (!parsed.ok) {
      errors[field] = 'Enter the amount in major units as a plain number, like 50000 or 1250.50 (no currency signs or commas).';
      return undefined;
    }
    return parsed.minor;
  };
  const goalAmount = amount('goal', null);
  const startingAmount = amount('starting_amount', 0);

  let presetAmounts: number[] | undefined;
  const presetTexts = values.presets.split(',').map((p) => p.trim()).filter(Boolean);
  if (presetTexts.length === 0 || presetTexts.length > MAX_PRESET_AMOUNTS) {
    errors.presets = `Enter 1 to ${MAX_PRESET_AMOUNTS} amounts separated by commas, like 10, 25, 50.`;
  } else if (knownCurrency) {
    // The same limits as a gift typed on the donate form, with its words.
    const parsed = presetTexts.map((text) => ({ text, result: parseGiftAmount(text, currency) }));
    const wrong = parsed.find((p) => !p.result.ok);
    if (wrong && !wrong.result.ok) errors.presets = `"${wrong.text}": ${wrong.result.error}`;
    else presetAmounts = parsed.map((p) => (p.result.ok ? p.result.minor : 0));
  }

  const day = (field: 'starts_at' | 'ends_at', kept: Date | null | undefined, endOfDay: boolean): Date | null | undefined => {
    const text = values[field];
    if (!text) return null;
    if (kept && isoDay(kept) === text) return kept;
    const m = DATE.exec(text);
    const date = m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], endOfDay ? 23 : 0, endOfDay ? 59 : 0, endOfDay ? 59 : 0)) : null;
    if (!date || Number.isNaN(date.getTime()) || isoDay(date) !== text) {
      errors[field] = 'Enter a date like 2026-12-31.';
      return undefined;
    }
    // Catches a mistyped year (1026 for 2026), which would put the campaign a thousand years back.
    if (date.getUTCFullYear() < MIN_YEAR || date.getUTCFullYear() > MAX_YEAR) {
      errors[field] = `Enter a date between ${MIN_YEAR} and ${MAX_YEAR}.`;
      return undefined;
    }
    return date;
  };
  const startsAt = day('starts_at', current?.startsAt, false);
  if (startsAt === null) errors.starts_at = 'Enter the day the campaign opens, like 2026-11-01.';
  const endsAt = day('ends_at', current?.endsAt, true);

  const frequency = values.default_frequency;
  if (!(FREQUENCIES as readonly string[]).includes(frequency)) errors.default_frequency = 'Choose once, monthly or annual.';

  const parsed = campaignInputSchema.safeParse({
    slug: values.slug,
    title: values.title,
    storyMarkdown: values.story,
    heroImageUrl: values.hero_image_url || null,
    currency,
    // Placeholders where the field already has its message: the schema still checks the rest.
    goalAmount: goalAmount ?? 1,
    startingAmount: startingAmount ?? 0,
    presetAmounts: presetAmounts ?? [],
    defaultFrequency: (errors.default_frequency ? 'once' : frequency) as Frequency,
    startsAt: startsAt ?? undefined,
    endsAt: endsAt ?? null,
    active: values.active !== '',
    holdComments: values.hold_comments !== '',
  });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = FIELD_OF[String(issue.path[0])];
      // A field's own parsing above already said what was wrong with it.
      if (field && !errors[field]) errors[field] = sentence(field, issue);
    }
  }
  // /admin/campaigns/new is the new-campaign form: a campaign called "new" could not have its dashboard there.
  if (values.slug === 'new' && !errors.slug) errors.slug = '"new" is kept for the console. Choose another slug.';
  if (Object.keys(errors).length > 0 || !parsed.success) return { ok: false, errors, values };
  return { ok: true, data: parsed.data, values };
}

const LABELS: Record<CampaignField, string> = {
  title: 'The title', slug: 'The slug', story: 'The story', hero_image_url: 'The hero image', goal: 'The goal',
  starting_amount: 'The starting amount', currency: 'The currency', starts_at: 'The start', ends_at: 'The end date',
  presets: 'The preset amounts', default_frequency: 'The default frequency', active: 'Active', hold_comments: 'Hold comments',
};

/** The schema's words ("must be above zero") as a sentence beside the field. */
function sentence(field: CampaignField, issue: ZodIssue): string {
  const message = issue.code === 'too_big' && field === 'story' ? 'is too long (at most 20,000 characters)'
    : issue.code === 'too_big' && field === 'title' ? 'is too long (at most 200 characters)'
    : issue.code === 'too_big' && field === 'slug' ? 'is too long (at most 80 characters)'
    : issue.message;
  if (field === 'slug' && issue.code !== 'too_big') return 'Use lower-case letters, digits and single hyphens, like end-of-year.';
  return `${LABELS[field]} ${message}.`;
}
