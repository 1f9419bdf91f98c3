/**
 * Money is an integer count of a currency's minor units (cents, pence, yen) plus its ISO code.
 * Nothing here touches floating point: parsing and formatting go through strings.
 */

export interface CurrencyRule {
  /** Digits after the decimal point, as Stripe counts them (JPY: 0). */
  decimals: number;
  /** Smallest gift accepted, in minor units (at least Stripe's minimum charge). */
  minMinor: number;
}

// Stripe charges at most 99,999,999 minor units in one payment (8 digits).
export const MAX_CHARGE_MINOR = 99_999_999;

const CURRENCIES: Record<string, CurrencyRule> = {
  usd: { decimals: 2, minMinor: 100 },
  eur: { decimals: 2, minMinor: 100 },
  gbp: { decimals: 2, minMinor: 100 },
  cad: { decimals: 2, minMinor: 100 },
  aud: { decimals: 2, minMinor: 100 },
  nzd: { decimals: 2, minMinor: 100 },
  chf: { decimals: 2, minMinor: 100 },
  sek: { decimals: 2, minMinor: 1000 },
  nok: { decimals: 2, minMinor: 1000 },
  dkk: { decimals: 2, minMinor: 1000 },
  pln: { decimals: 2, minMinor: 500 },
  czk: { decimals: 2, minMinor: 2500 },
  mxn: { decimals: 2, minMinor: 2000 },
  brl: { decimals: 2, minMinor: 500 },
  inr: { decimals: 2, minMinor: 5000 },
  jpy: { decimals: 0, minMinor: 100 },
  krw: { decimals: 0, minMinor: 1000 },
};

export const SUPPORTED_CURRENCIES = Object.keys(CURRENCIES);

export function currencyRule(currency: string): CurrencyRule {
  const rule = CURRENCIES[currency.toLowerCase()];
  if (!rule) throw new Error(`Unsupported currency ${currency}`);
  return rule;
}

export function isSupportedCurrency(currency: string): boolean {
  return Object.hasOwn(CURRENCIES, currency.toLowerCase());
}

export type ParseAmountResult = { ok: true; minor: number } | { ok: false; reason: 'format' | 'decimals' };

/**
 * Parses an amount typed in major units: plain digits with at most the currency's decimals
 * ("25", "37.50"). No signs, exponents, spaces or thousands separators.
 */
export function parseMajorAmount(input: string, currency: string): ParseAmountResult {
  const { decimals } = currencyRule(currency);
  const match = /^(\d{1,12})(?:\.(\d+))?$/.exec(input.trim());
  if (!match) return { ok: false, reason: 'format' };
  const [, whole, fraction = ''] = match;
  if (fraction.length > decimals) return { ok: false, reason: 'decimals' };
  const minor = Number(whole) * 10 ** decimals + Number(fraction.padEnd(decimals, '0') || '0');
  if (!Number.isSafeInteger(minor)) return { ok: false, reason: 'format' };
  return { ok: true, minor };
}

/** 3750 usd → "37.50"; 3700 usd → "37"; 500 jpy → "500". For form values, never for display. */
export function minorToMajorString(minor: number, currency: string, keepZeros = false): string {
  const { decimals } = currencyRule(currency);
  const negative = minor < 0;
  const digits = String(Math.abs(minor)).padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals);
  let fraction = decimals ? digits.slice(-decimals) : '';
  if (!keepZeros && /^0*$/.test(fraction)) fraction = '';
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

const formatters = new Map<string, Intl.NumberFormat>();

/** 3750 usd → "$37.50", 5000000 usd → "$50,000". Intl formats the exact decimal string, not a float. */
export function formatMoney(minor: number, currency: string, locale = 'en-US'): string {
  return format(minor, currency, locale, minor % 10 ** currencyRule(currency).decimals !== 0);
}

/** An amount charged, as on receipts and statements: always with its minor digits (3700 usd → "$37.00"). */
export function formatCharge(minor: number, currency: string, locale = 'en-US'): string {
  return format(minor, currency, locale, true);
}

function format(minor: number, currency: string, locale: string, hasFraction: boolean): string {
  const key = `${locale}:${currency}:${hasFraction}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = new Intl.NumberFormat(locale, {
      style: 'currency',
      currency: currency.toUpperCase(),
      minimumFractionDigits: hasFraction ? currencyRule(currency).decimals : 0,
    });
    formatters.set(key, formatter);
  }
  // Intl accepts decimal strings and formats them exactly (no binary rounding).
  return formatter.format(minorToMajorString(minor, currency, true) as unknown as number);
}

/**
 * The total to charge so that, after the processor's fee (percent in basis points plus a fixed
 * part in minor units), the organisation receives the gift in full. Rounds up: never short.
 */
export function grossUpForFees(minor: number, fee: { percentBps: number; fixedMinor: number }): number {
  const total = Math.ceil(((minor + fee.fixedMinor) * 10_000) / (10_000 - fee.percentBps));
  return Math.max(total, minor);
}
