/** Stripe's test card numbers and what each one does. */

export interface CardDetails {
  number: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

export interface Decline {
  code: string; // Stripe error code: card_declined, expired_card, …
  declineCode: string; // decline_code, or the code itself when Stripe gives none
  message: string;
}

/** Digits only: people type spaces and dashes. */
export function normaliseCardNumber(raw: string): string {
  return raw.replace(/[\s-]/g, '');
}

export function luhnValid(number: string): boolean {
  if (!/^\d{12,19}$/.test(number)) return false;
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let digit = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

export function cardBrand(number: string): string {
  if (/^4/.test(number)) return 'visa';
  if (/^(5[1-5]|2[2-7])/.test(number)) return 'mastercard';
  if (/^3[47]/.test(number)) return 'amex';
  if (/^(6011|65|64[4-9])/.test(number)) return 'discover';
  if (/^35/.test(number)) return 'jcb';
  if (/^3(0|6|8)/.test(number)) return 'diners';
  if (/^62/.test(number)) return 'unionpay';
  return 'unknown';
}

const DECLINED: Decline = { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' };

/** Decline for a card, or null when charging it succeeds. 0341 attaches fine but fails every charge. */
const DECLINES: Record<string, Decline> = {
  '4000000000000002': DECLINED,
  '4000000000000341': DECLINED,
  '4000000000009995': { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  '4000000000009987': { code: 'card_declined', declineCode: 'lost_card', message: 'Your card was declined.' },
  '4000000000009979': { code: 'card_declined', declineCode: 'stolen_card', message: 'Your card was declined.' },
  '4000000000000069': { code: 'expired_card', declineCode: 'expired_card', message: 'Your card has expired.' },
  '4000000000000127': { code: 'incorrect_cvc', declineCode: 'incorrect_cvc', message: "Your card's security code is incorrect." },
  '4000000000000119': { code: 'processing_error', declineCode: 'processing_error', message: 'An error occurred while processing your card. Try again in a little bit.' },
};

/** Stripe's test cards that pay. Any other valid number is a real card, which test mode refuses. */
const PAYS = new Set([
  '4242424242424242', '4000056655665556', '5555555555554444', '2223003122003222', '5200828282828210', '5105105105105100',
  '378282246310005', '371449635398431', '6011111111111117', '6011000990139424', '3056930009020004', '36227206271667',
  '3566002020360505', '6200000000000005',
]);

const LIVE_CARD_IN_TEST_MODE: Decline = {
  code: 'card_declined',
  declineCode: 'test_mode_live_card',
  message: 'Your card was declined. Your request was in test mode, but used a non test card. For a list of valid test cards, visit: https://stripe.com/docs/testing.',
};

/** One of Stripe's test cards (paying or declining); any other number is someone's real card. */
export function isTestCard(number: string): boolean {
  return Object.hasOwn(DECLINES, number) || PAYS.has(number);
}

export function declineFor(number: string): Decline | null {
  return DECLINES[number] ?? (PAYS.has(number) ? null : LIVE_CARD_IN_TEST_MODE);
}

export const INCORRECT_NUMBER: Decline = { code: 'incorrect_number', declineCode: 'incorrect_number', message: 'Your card number is incorrect.' };
const INVALID_EXPIRY_MONTH: Decline = { code: 'invalid_expiry_month', declineCode: 'invalid_expiry_month', message: "Your card's expiration month is invalid." };
const INVALID_EXPIRY_YEAR: Decline = { code: 'invalid_expiry_year', declineCode: 'invalid_expiry_year', message: "Your card's expiration year is invalid." };

/** A card as tests, controls and pages give it. Without an expiry it expires in December three years from now. */
export interface CardInput {
  number: string;
  exp_month?: number;
  exp_year?: number;
}

export type CardCheck = { ok: true; card: CardDetails } | { ok: false; decline: Decline };

/** Stripe's checks before any charge: a Luhn-valid number and an expiry that is a real month, not in the past. */
export function checkCard(input: CardInput, now = new Date()): CardCheck {
  const number = normaliseCardNumber(input.number);
  if (!luhnValid(number)) return { ok: false, decline: INCORRECT_NUMBER };
  const expMonth = input.exp_month ?? 12;
  const expYear = input.exp_year ?? now.getUTCFullYear() + 3;
  const thisYear = now.getUTCFullYear();
  if (!Number.isInteger(expMonth) || expMonth < 1 || expMonth > 12) return { ok: false, decline: INVALID_EXPIRY_MONTH };
  if (!Number.isInteger(expYear) || expYear < thisYear || expYear > thisYear + 50) return { ok: false, decline: INVALID_EXPIRY_YEAR };
  if (expYear === thisYear && expMonth < now.getUTCMonth() + 1) return { ok: false, decline: INVALID_EXPIRY_MONTH };
  return { ok: true, card: { number, brand: cardBrand(number), last4: number.slice(-4), expMonth, expYear } };
}

/** checkCard, then the issuer's answer to saving the card: declining cards are refused, except 0341, which fails only when charged. */
export function checkCardToSave(input: CardInput): CardCheck {
  const checked = checkCard(input);
  if (!checked.ok) return checked;
  const decline = checked.card.number === FAILS_ONLY_WHEN_CHARGED ? null : declineFor(checked.card.number);
  return decline ? { ok: false, decline } : checked;
}
const FAILS_ONLY_WHEN_CHARGED = '4000000000000341';
