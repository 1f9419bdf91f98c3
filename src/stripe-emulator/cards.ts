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

export function declineFor(number: string): Decline | null {
  return DECLINES[number] ?? (PAYS.has(number) ? null : LIVE_CARD_IN_TEST_MODE);
}

export const INCORRECT_NUMBER: Decline = { code: 'incorrect_number', declineCode: 'incorrect_number', message: 'Your card number is incorrect.' };

export function cardDetails(number: string, expMonth = 12, expYear = new Date().getUTCFullYear() + 3): CardDetails {
  return { number, brand: cardBrand(number), last4: number.slice(-4), expMonth, expYear };
}
