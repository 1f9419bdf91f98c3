import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveSecret } from '../security/secrets';

/**
 * The links in donors' mail. A manage link (in every receipt) signs a donor id and an expiry:
 * it works several times, because mail scanners open links before people do. A sign-in link
 * signs a token id whose row makes it single-use. Neither signs anyone in by being opened: the
 * page it opens has one button that POSTs.
 */
export const MANAGE_LINK_DAYS = 60;
export const SIGN_IN_LINK_MINUTES = 30;

export type LinkCheck<T> = { ok: true; value: T } | { ok: false; reason: 'malformed' | 'forged' | 'expired' };

export class AccountLinks {
  private readonly manageKey: Buffer;
  private readonly signInKey: Buffer;

  constructor(private readonly baseUrl: string, sessionSecret: string) {
    this.manageKey = deriveSecret(sessionSecret, 'manage-links');
    this.signInKey = deriveSecret(sessionSecret, 'sign-in-links');
  }

  /** `BASE_URL/account/manage/<token>`, valid MANAGE_LINK_DAYS from `now`. */
  manageUrl(donorId: string, now = new Date()): string {
    const expires = Math.floor(now.getTime() / 1000) + MANAGE_LINK_DAYS * 86_400;
    const payload = `${donorId}.${expires.toString(36)}`;
    return `${this.baseUrl}/account/manage/${payload}.${sign(this.manageKey, payload)}`;
  }

  checkManageToken(token: string, now = new Date()): LinkCheck<{ donorId: string }> {
    const match = /^([0-9a-f-]{36})\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!match) return { ok: false, reason: 'malformed' };
    const [, donorId, expires, signature] = match;
    if (!verify(this.manageKey, `${donorId}.${expires}`, signature)) return { ok: false, reason: 'forged' };
    if (parseInt(expires, 36) * 1000 < now.getTime()) return { ok: false, reason: 'expired' };
    return { ok: true, value: { donorId } };
  }

  /** `BASE_URL/account/sign-in/<token>` for a donor_sign_in_tokens row (its expiry and use are in the row). */
  signInUrl(tokenId: string): string {
    return `${this.baseUrl}/account/sign-in/${tokenId}.${sign(this.signInKey, tokenId)}`;
  }

  /** The token row id if the signature holds; whether it is unused and unexpired is the row's to say. */
  checkSignInToken(token: string): LinkCheck<{ tokenId: string }> {
    const match = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!match) return { ok: false, reason: 'malformed' };
    const [, tokenId, signature] = match;
    if (!verify(this.signInKey, tokenId, signature)) return { ok: false, reason: 'forged' };
    return { ok: true, value: { tokenId } };
  }
}

function sign(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url');
}

function verify(key: Buffer, payload: string, signature: string): boolean {
  const expected = Buffer.from(sign(key, payload));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
