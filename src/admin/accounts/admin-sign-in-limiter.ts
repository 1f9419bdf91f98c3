import type { Pool } from 'pg';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import { consumeRateLimit } from '../../donations/donate-limiter';
import { clientNetwork } from '../../security/client-network';
import { keyedHash } from '../../security/secrets';

/** Five wrong passwords for one account lock it for 15 minutes; a network gets twenty across accounts. */
const PER_ACCOUNT = { points: 5, seconds: 15 * 60 };
const PER_IP = { points: 20, seconds: 15 * 60 };

/**
 * Failed admin sign-ins, per account (email, known or not, so a lockout tells nothing about who is
 * an admin) and per IP network. Kept in Postgres (the rate_limits table) so every instance sees
 * them; keys are keyed hashes, so the table holds no address.
 */
export class AdminSignInLimiter {
  private readonly byAccount: RateLimiterPostgres;
  private readonly byIp: RateLimiterPostgres;

  constructor(pool: Pool, private readonly hashKey: Buffer) {
    const store = { storeClient: pool, storeType: 'pool', tableName: 'rate_limits', tableCreated: true };
    this.byAccount = new RateLimiterPostgres({ ...store, keyPrefix: 'admin-sign-in-account', points: PER_ACCOUNT.points, duration: PER_ACCOUNT.seconds, blockDuration: PER_ACCOUNT.seconds });
    this.byIp = new RateLimiterPostgres({ ...store, keyPrefix: 'admin-sign-in-ip', points: PER_IP.points, duration: PER_IP.seconds, blockDuration: PER_IP.seconds });
  }

  /** Seconds until this email or network may try again, or null when it may try now. */
  async lockedFor(email: string, ip: string): Promise<number | null> {
    const [account, network] = await Promise.all([
      this.byAccount.get(this.accountKey(email)),
      this.byIp.get(this.ipKey(ip)),
    ]);
    const waits = [
      account && account.consumedPoints >= PER_ACCOUNT.points ? account.msBeforeNext : 0,
      network && network.consumedPoints >= PER_IP.points ? network.msBeforeNext : 0,
    ];
    const ms = Math.max(...waits);
    return ms > 0 ? Math.max(1, Math.ceil(ms / 1000)) : null;
  }

  /** Counts a failed attempt; returns the lockout in seconds when this failure used up the allowance. */
  async failed(email: string, ip: string): Promise<number | null> {
    const [account, network] = await Promise.all([
      consumeRateLimit(this.byAccount, this.accountKey(email)),
      consumeRateLimit(this.byIp, this.ipKey(ip)),
    ]);
    const waits = [
      account.consumedPoints >= PER_ACCOUNT.points ? account.msBeforeNext : 0,
      network.consumedPoints >= PER_IP.points ? network.msBeforeNext : 0,
    ];
    const ms = Math.max(...waits);
    return ms > 0 ? Math.max(1, Math.ceil(ms / 1000)) : null;
  }

  /** A right password forgets the account's failures (not the network's). */
  async succeeded(email: string): Promise<void> {
    await this.byAccount.delete(this.accountKey(email));
  }

  private accountKey(email: string): string {
    return keyedHash(this.hashKey, email.trim().toLowerCase());
  }

  private ipKey(ip: string): string {
    return keyedHash(this.hashKey, clientNetwork(ip));
  }
}
