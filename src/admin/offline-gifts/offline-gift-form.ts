import { longDate } from '../../dates';
import { INVALID_EMAIL, isValidEmail, plainText } from '../../donations/donation-form';
import { OFFLINE_METHODS, type OfflineMethod } from '../../donations/gift-words';
import { currencyRule, formatCharge, parseMajorAmount } from '../../money';

/**
 * The largest offline gift, in minor units: above Stripe's one-payment limit (a bequest by
 * cheque can be), still far inside bigint and JavaScript's safe integers when summed.
 */
export const MAX_OFFLINE_GIFT_MINOR = 9_999_999_999;

const LIMITS = { reference: 100, name: 100, note: 1000, reason: 500 };

export type OfflineGiftField = 'amount' | 'receivedOn' | 'method' | 'reference' | 'donorEmail' | 'donorName' | 'note' | 'form';

export interface OfflineGiftInput {
  amount: number;
  receivedOn: string;
  method: OfflineMethod;
  reference: string | null;
  donorEmail: string | null;
  donorName: string | null;
  note: string | null;
  /** The form's one-time key: the same form sent twice records one gift. */
  formKey: string;
}

/** What the admin typed, given back to the form when it is shown again. */
export type OfflineGiftValues = Record<'amount' | 'receivedOn' | 'method' | 'reference' | 'donorEmail' | 'donorName' | 'note' | 'nonce', string>;

export type OfflineGiftFormResult =
  | { ok: true; value: OfflineGiftInput; values: OfflineGiftValues }
  | { ok: false; errors: Partial<Record<OfflineGiftField, string>>; values: OfflineGiftValues };

const NONCE = /^[A-Za-z0-9_-]{22,64}$/;

/** A day as YYYY-MM-DD in UTC. */
export const utcDay = (date: Date): string => date.toISOString().slice(0, 10);

/** The earliest day a gift can have been received: the day the campaign opened (UTC); a mistyped year is caught too. */
export function earliestReceivedOn(campaignStartsAt: Date): string {
  return utcDay(campaignStartsAt);
}

/** Reads and checks every field; any problem is told beside its field, and nothing is stored. */
export function parseOfflineGiftForm(
  body: Record<string, unknown>,
  campaign: { currency: string; startsAt: Date },
  now: Date,
): OfflineGiftFormResult {
  const text = (name: string) => plainText(body?.[name]);
  const values: OfflineGiftValues = {
    amount: text('amount') ?? '', receivedOn: text('received_on') ?? '', method: text('method') ?? '', reference: text('reference') ?? '',
    donorEmail: text('donor_email') ?? '', donorName: text('donor_name') ?? '', note: text('note') ?? '', nonce: text('nonce') ?? '',
  };
  const errors: Partial<Record<OfflineGiftField, string>> = {};
  const code = campaign.currency.toUpperCase();

  let amount = 0;
  const parsed = parseMajorAmount(values.amount, campaign.currency);
  if (!values.amount) errors.amount = `Enter the amount received, in ${code}.`;
  else if (!parsed.ok) errors.amount = parsed.reason === 'decimals' ? decimalsMessage(campaign.currency) : 'Enter an amount like 250 or 37.50, digits only.';
  else if (parsed.minor <= 0) errors.amount = 'Enter an amount above zero.';
  else if (parsed.minor > MAX_OFFLINE_GIFT_MINOR) errors.amount = `One offline gift is at most ${formatCharge(MAX_OFFLINE_GIFT_MINOR, campaign.currency)}.`;
  else amount = parsed.minor;

  const earliest = earliestReceivedOn(campaign.startsAt);
  const today = utcDay(now);
  if (!values.receivedOn) errors.receivedOn = 'Enter the day the gift was received.';
  else if (!isCalendarDay(values.receivedOn)) errors.receivedOn = 'Enter the day as YYYY-MM-DD, like 2026-03-31.';
  else if (values.receivedOn > today) errors.receivedOn = 'The day received cannot be in the future (days are counted in UTC).';
  // Money from before the campaign opened is its starting amount: as a gift it would fall outside every figure of the campaign's days.
  else if (values.receivedOn < earliest) errors.receivedOn = `The day received cannot be before the campaign opened on ${longDate(new Date(`${earliest}T00:00:00Z`))}. Count money given before then in the campaign's starting amount.`;

  if (!(OFFLINE_METHODS as readonly string[]).includes(values.method)) errors.method = 'Choose how the gift was paid.';
  if (values.reference.length > LIMITS.reference) errors.reference = `Keep the reference to ${LIMITS.reference} characters.`;
  if (values.donorEmail && !isValidEmail(values.donorEmail)) errors.donorEmail = INVALID_EMAIL;
  if (values.donorName.length > LIMITS.name) errors.donorName = `Keep the name to ${LIMITS.name} characters.`;
  // Donors are people with an email: a name alone has nowhere to go and would be lost without a word.
  else if (values.donorName && !values.donorEmail) errors.donorName = 'Add the donor\'s email to record their name, or leave both empty for an anonymous gift.';
  if (values.note.length > LIMITS.note) errors.note = `Keep the note to ${LIMITS.note} characters.`;
  if (!NONCE.test(values.nonce)) errors.form = 'This form was missing its one-time key. Check the details and record the gift again.';
  // A field sent twice (or as an object) is nobody's form: null from plainText.
  for (const [field, name] of [['amount', 'amount'], ['receivedOn', 'received_on'], ['method', 'method'], ['reference', 'reference'],
    ['donorEmail', 'donor_email'], ['donorName', 'donor_name'], ['note', 'note']] as const) {
    if (text(name) === null) errors[field] = 'Enter one value.';
  }

  if (Object.keys(errors).length) return { ok: false, errors, values };
  return {
    ok: true,
    values,
    value: {
      amount, receivedOn: values.receivedOn, method: values.method as OfflineMethod, reference: values.reference || null,
      donorEmail: values.donorEmail || null, donorName: values.donorName || null, note: values.note || null, formKey: values.nonce,
    },
  };
}

/** The void form's reason: required, at most 500 characters. */
export function parseVoidReason(body: Record<string, unknown>): { ok: true; reason: string } | { ok: false; error: string; value: string } {
  const reason = plainText(body?.reason);
  if (reason === null) return { ok: false, error: 'Enter one reason.', value: '' };
  if (!reason) return { ok: false, error: 'Say why this gift is voided (a bounced cheque, entered twice…): the audit log keeps it.', value: '' };
  if (reason.length > LIMITS.reason) return { ok: false, error: `Keep the reason to ${LIMITS.reason} characters.`, value: reason };
  return { ok: true, reason };
}

function isCalendarDay(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && utcDay(date) === value;
}

function decimalsMessage(currency: string): string {
  const { decimals } = currencyRule(currency);
  const code = currency.toUpperCase();
  return decimals === 0 ? `${code} amounts are whole numbers.` : `${code} amounts have at most ${decimals} decimals.`;
}
