import { createHmac, hkdfSync } from 'node:crypto';

/**
 * A key for one purpose, derived from SESSION_SECRET, so no two uses share a key and SESSION_SECRET
 * itself never leaves the cookie signer. Without SESSION_SECRET (outside production) the secret is
 * random per boot, and so are these keys: counters and challenges then last one boot, which is fine.
 */
export function deriveSecret(sessionSecret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', sessionSecret, 'kettle', `kettle:${purpose}`, 32));
}

/** A keyed hash: stored rate-limit keys reveal no IP address or email, even to a dictionary attack. */
export function keyedHash(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex').slice(0, 40);
}
