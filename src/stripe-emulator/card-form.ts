/** The card fields of the hosted pages (checkout, the portal's payment method form), checked as Stripe's form does. */
import { luhnValid, normaliseCardNumber, type CardInput } from './cards';

export interface CardFields {
  cardNumber: string;
  /** `MM / YY` or `MM / YYYY` */
  exp: string;
  cvc: string;
}
export type CardFieldErrors = Partial<Record<'card' | 'exp' | 'cvc', string>>;

/** What the pages list under "Test card numbers". */
export const TEST_CARDS = [
  { number: '4242 4242 4242 4242', effect: 'pays' },
  { number: '4000 0000 0000 0002', effect: 'declined' },
  { number: '4000 0000 0000 9995', effect: 'declined: insufficient funds' },
  { number: '4000 0000 0000 0341', effect: 'can be saved, declined whenever it is charged' },
];

/** The card the fields describe, or what is wrong with them. The CVC is checked only when given, unless required. */
export function readCardFields(form: CardFields, opts: { cvcRequired: boolean }, now = new Date()): { card?: CardInput; errors: CardFieldErrors } {
  const errors: CardFieldErrors = {};
  const number = normaliseCardNumber(form.cardNumber);
  if (!number) errors.card = 'Your card number is incomplete.';
  else if (!/^\d+$/.test(number) || !luhnValid(number)) errors.card = 'Your card number is invalid.';

  const exp = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(form.exp);
  const month = exp ? Number(exp[1]) : 0;
  const year = exp ? (exp[2]!.length === 2 ? 2000 + Number(exp[2]) : Number(exp[2])) : 0;
  if (!exp) errors.exp = "Your card's expiration date is incomplete.";
  else if (month < 1 || month > 12) errors.exp = "Your card's expiration month is invalid.";
  else if (year < now.getUTCFullYear() || (year === now.getUTCFullYear() && month < now.getUTCMonth() + 1)) {
    errors.exp = "Your card's expiration date is in the past.";
  }

  const cvc = form.cvc.trim();
  if ((cvc || opts.cvcRequired) && !/^\d{3,4}$/.test(cvc)) errors.cvc = "Your card's security code is incomplete.";
  if (Object.keys(errors).length > 0) return { errors };
  return { card: { number, exp_month: month, exp_year: year }, errors };
}
