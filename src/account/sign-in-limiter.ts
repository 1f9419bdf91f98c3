import type { Pool } from 'pg';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import { consumeRateLimit } from '../donations/donate-limiter';
import { clientNetwork } from '../security/client-network';
import { keyedHash } from '../security/secrets';

export interface SignInLimits {
  perAddressPerHour: number;
  perIpPerHour: number;
}

/**
 * Enough for a person who mistypes or asks again; too few to mail-bomb an address or probe for
 * who gives (the page says the same either way, so probing gains nothing but costs us mail).
 */
export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = { perAddressPerHour: 5, perIpPerHour: 20 };

/**
 * How often sign-in links may be asked for: per address, and per IP network. Kept in Postgres
 * (the donate form's rate_limits table) so the counts hold across instances; keys are keyed
 * hashes, so the table holds no address.
 */
export class SignInLimiter {
  private readonly byAddress: RateLimiterPostgres;
  private readonly byIp: RateLimiterPostgres;

  constructor(pool: Pool, limits: SignInLimits, private readonly hashKey: Buffer) {
    const store = { storeClient: pool, storeType: 'pool', tableName: 'rate_limits', tableCreated: true };
    this.byAddress = new RateLimiterPostgres({ ...store, keyPrefix: 'sign-in-address', points: limits.perAddressPerHour, duration: 3600 });
    this.byIp = new RateLimiterPostgres({ ...store, keyPrefix: 'sign-in-ip', points: limits.perIpPerHour, duration: 3600 });
  }

  /** Every request counts against its network, a valid address or not. Returns the wait in seconds when over. */
  fromIp(ip: string): Promise<number | null> {
    return this.attempt(this.byIp, clientNetwork(ip));
  }

  /** A well-formed address counts whether or not anyone gives with it, so the answer tells nothing. */
  forAddress(email: string): Promise<number | null> {
    return this.attempt(this.byAddress, email.toLowerCase());
  }

  private async attempt(limiter: RateLimiterPostgres, value: string): Promise<number | null> {
    const res = await consumeRateLimit(limiter, keyedHash(this.hashKey, value));
    return res.over ? Math.max(1, Math.ceil(res.msBeforeNext / 1000)) : null;
  }
}
