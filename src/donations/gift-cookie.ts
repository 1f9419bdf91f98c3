import type { Request } from 'express';

/** Signed cookie naming the checkout intent started in this browser: only its owner sees the gift's details. */
export const GIFT_COOKIE = 'kettle_gift';

export function giftCookieIntentId(req: Request): string | null {
  const value = req.signedCookies?.[GIFT_COOKIE];
  return typeof value === 'string' ? value : null;
}
