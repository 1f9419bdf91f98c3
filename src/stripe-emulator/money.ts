/** Stripe amounts are integers in the currency's minor unit; these currencies have none. */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

export function minorUnitDigits(currency: string): number {
  const c = currency.toLowerCase();
  if (ZERO_DECIMAL.has(c)) return 0;
  if (THREE_DECIMAL.has(c)) return 3;
  return 2;
}

/** 1050 usd → "$10.50"; 500 jpy → "¥500" (zero-decimal currencies have no minor unit). */
export function formatAmount(amount: number, currency: string, locale = 'en'): string {
  const digits = minorUnitDigits(currency);
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency: currency.toUpperCase(),
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(toDecimalString(amount, digits) as unknown as number);
}

/** 1050, 2 → "10.50": Intl formats decimal strings exactly, so no float ever holds the amount. */
function toDecimalString(amount: number, digits: number): string {
  const sign = amount < 0 ? '-' : '';
  const padded = String(Math.abs(amount)).padStart(digits + 1, '0');
  return digits ? `${sign}${padded.slice(0, -digits)}.${padded.slice(-digits)}` : `${sign}${padded}`;
}

/** Stripe's minimum charge per settlement currency (a subset; others are not checked). */
const MINIMUM_CHARGE: Record<string, number> = {
  usd: 50, eur: 50, gbp: 30, cad: 50, aud: 50, chf: 50, nzd: 50, sgd: 50, hkd: 400, jpy: 50,
  dkk: 250, nok: 300, sek: 300, pln: 200, czk: 1500, mxn: 1000, brl: 50, inr: 50,
};

export function minimumChargeAmount(currency: string): number | undefined {
  return MINIMUM_CHARGE[currency];
}
