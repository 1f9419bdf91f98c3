import { z } from 'zod';
import { FREQUENCIES, type Campaign, type Frequency } from '../campaigns/campaign.entity';
import { currencyRule, formatMoney, grossUpForFees, MAX_CHARGE_MINOR, parseMajorAmount } from '../money';

export interface DonationRequest {
  donationAmount: number;
  feeCoverAmount: number;
  totalAmount: number;
  currency: string;
  frequency: Frequency;
  email: string;
  name: string | null;
  comment: string | null;
  anonymous: boolean;
  dedication: string | null;
  newsletter: boolean;
}

export type DonationField = 'amount' | 'frequency' | 'email' | 'name' | 'comment' | 'dedication';
export type FieldErrors = Partial<Record<DonationField, string>>;

export type DonationFormResult = { ok: true; value: DonationRequest } | { ok: false; errors: FieldErrors };

const LIMITS = { name: 100, comment: 500, dedication: 200, email: 254 };
const emailSchema = z.email();

/**
 * Characters nobody sees that change what others see: control characters (they break CSV and email
 * headers), and invisible format characters (\p{Cf}), among them the bidirectional overrides and
 * isolates (U+202A–U+202E, U+2066–U+2069), marks (U+200E, U+200F, U+061C) and zero-width spaces that
 * can reverse or hide text on the donor wall. Zero-width (non-)joiners stay: emoji sequences and
 * Persian or Indic names need them. Line and paragraph separators become plain line breaks.
 */
const INVISIBLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]|(?![\u200c\u200d])\p{Cf}/gu;
const UNICODE_LINE_BREAK = /[\u2028\u2029]/g;

/**
 * A single text value from a urlencoded body, without invisible characters and trimmed; undefined
 * when absent, null when repeated or nested (not text). Every form a donor fills in reads text through it.
 */
export function plainText(value: unknown): string | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return null;
  return value.replace(INVISIBLE, '').replace(UNICODE_LINE_BREAK, '\n').trim();
}

export const INVALID_EMAIL = 'Enter a valid email address, like name@example.org.';

export function isValidEmail(email: string): boolean {
  return email.length <= LIMITS.email && emailSchema.safeParse(email).success;
}

/**
 * The amount of one gift, typed in major units ("25", "37.50"): the limits every gift keeps
 * (the currency's minimum, Stripe's maximum), with a message for the donor when it is not one.
 */
export function parseGiftAmount(amountText: string | undefined | null, currency: string): { ok: true; minor: number } | { ok: false; error: string } {
  const rule = currencyRule(currency);
  const code = currency.toUpperCase();
  if (amountText === null) return { ok: false, error: 'Enter one amount, like 25 or 37.50.' };
  if (!amountText) return { ok: false, error: 'Choose or enter an amount.' };
  const parsed = parseMajorAmount(amountText, currency);
  if (!parsed.ok) {
    return {
      ok: false,
      error: parsed.reason === 'decimals'
        ? rule.decimals === 0 ? `${code} amounts are whole numbers, like 500.` : `${code} amounts have at most ${rule.decimals} decimal places, like 37.50.`
        : amountText.startsWith('-')
          ? 'A gift must be more than zero.'
          : `Enter the amount as a plain number, like ${rule.decimals ? '25 or 37.50' : '500'} (no currency signs or commas).`,
    };
  }
  if (parsed.minor < rule.minMinor) return { ok: false, error: `The smallest gift we can accept is ${formatMoney(rule.minMinor, currency)}.` };
  if (parsed.minor > MAX_CHARGE_MINOR) return { ok: false, error: `The largest gift we can take online is ${formatMoney(MAX_CHARGE_MINOR, currency)}. Please contact us for larger gifts.` };
  return { ok: true, minor: parsed.minor };
}

function checkbox(value: unknown): boolean {
  const v = typeof value === 'string' ? value.trim().toLowerCase() : '';
  return v !== '' && !['false', '0', 'off', 'no'].includes(v);
}

/**
 * Validates the public donate form. Every message is written for the supporter, beside its field.
 * `amount` is major units ("25", "37.50"); the form's "Other" radio sends `amount=other` plus `amount_other`.
 */
export function parseDonationForm(
  body: Record<string, unknown>,
  campaign: Campaign,
  fees: { percentBps: number; fixedMinor: number },
): DonationFormResult {
  const errors: FieldErrors = {};
  const currency = campaign.currency;

  let amountText = plainText(body.amount);
  const typedOther = plainText(body.amount_other);
  // Without JavaScript, typing under Other does not select it: never guess which of the two was meant.
  const conflicting = amountText && amountText !== 'other' && typedOther;
  if (amountText === 'other') amountText = typedOther;
  let donationAmount = 0;
  if (conflicting) errors.amount = 'You picked an amount and also typed one under Other. Choose "Other" to give the typed amount, or clear it.';
  else {
    const amount = parseGiftAmount(amountText, currency);
    if (amount.ok) donationAmount = amount.minor;
    else errors.amount = amount.error;
  }

  const frequencyText = plainText(body.frequency);
  let frequency: Frequency = campaign.defaultFrequency;
  if (frequencyText === null || (frequencyText && !(FREQUENCIES as readonly string[]).includes(frequencyText))) {
    errors.frequency = 'Choose how often to give: once, monthly or annual.';
  } else if (frequencyText) frequency = frequencyText as Frequency;

  const email = plainText(body.email);
  if (!email) errors.email = 'Enter your email address so we can send your receipt.';
  else if (!isValidEmail(email)) errors.email = INVALID_EMAIL;

  const optionalText = (field: 'name' | 'comment' | 'dedication', label: string): string | null => {
    const value = plainText(body[field]);
    if (value === null) errors[field] = `Enter your ${label} as plain text.`;
    else if (value && value.length > LIMITS[field]) errors[field] = `Keep your ${label} under ${LIMITS[field]} characters.`;
    return value || null;
  };
  const name = optionalText('name', 'name');
  const comment = optionalText('comment', 'comment');
  const dedication = optionalText('dedication', 'dedication');

  let feeCoverAmount = 0;
  if (!errors.amount && checkbox(body.cover_fees)) {
    feeCoverAmount = grossUpForFees(donationAmount, fees) - donationAmount;
    if (donationAmount + feeCoverAmount > MAX_CHARGE_MINOR) {
      errors.amount = `With fees covered this is above the largest gift we can take online (${formatMoney(MAX_CHARGE_MINOR, currency)}).`;
    }
  }

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      donationAmount,
      feeCoverAmount,
      totalAmount: donationAmount + feeCoverAmount,
      currency,
      frequency,
      email: email!,
      name,
      comment,
      anonymous: checkbox(body.anonymous),
      dedication,
      newsletter: checkbox(body.newsletter),
    },
  };
}
