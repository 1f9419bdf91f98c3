import type { Pool } from 'pg';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { clientNetwork } from '../security/client-network';
import { keyedHash } from '../security/secrets';

export interface DonateLimits {
  perIpPerHour: number;
  perEmailPerHour: number;
  perCampaignPerMinute: number;
  hardPerIpPerHour: number;
}

export interface IpAttempt {
  /** Over the hard ceiling: refuse, and this is the real wait. */
  refusedForSeconds: number | null;
  /** Over the soft limit: the attempt needs a challenge. */
  overLimit: boolean;
}

export interface GiftAttempt {
  emailOverLimit: boolean;
  campaignOverLimit: boolean;
}

/**
 * Card testers send thousands of small donate attempts from a few IPs (../shared/stripe/NOTES.md).
 * Before any Checkout Session is created, each attempt counts against its IP network, its email and
 * its campaign, in Postgres so the counts hold across instances. Over a limit the form asks for a
 * challenge (so a stranger can switch nothing off for others); only an IP network over the hard
 * ceiling is refused. Keys are keyed hashes: the table never holds an IP address or an email.
 */
export class DonateLimiter {
  private readonly byIp: RateLimiterPostgres;
  private readonly byEmail: RateLimiterPostgres;
  private readonly byCampaign: RateLimiterPostgres;

  constructor(pool: Pool, private readonly limits: DonateLimits, private readonly hashKey: Buffer) {
    const store = { storeClient: pool, storeType: 'pool', tableName: 'rate_limits', tableCreated: true };
    this.byIp = new RateLimiterPostgres({ ...store, keyPrefix: 'donate-ip', points: limits.hardPerIpPerHour, duration: 3600 });
    this.byEmail = new RateLimiterPostgres({ ...store, keyPrefix: 'donate-email', points: limits.perEmailPerHour, duration: 3600 });
    this.byCampaign = new RateLimiterPostgres({ ...store, keyPrefix: 'donate-campaign', points: limits.perCampaignPerMinute, duration: 60 });
  }

  /** Every POST counts against its IP network, valid or not: probing the form is an attempt too. */
  async attemptFromIp(ip: string): Promise<IpAttempt> {
    const res = await consumeRateLimit(this.byIp, keyedHash(this.hashKey, clientNetwork(ip)));
    if (res.over) return { refusedForSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)), overLimit: true };
    return { refusedForSeconds: null, overLimit: res.consumedPoints > this.limits.perIpPerHour };
  }

  /** Only a valid gift about to go to Stripe counts against its email and its campaign. */
  async giftAttempt(email: string, campaignId: string): Promise<GiftAttempt> {
    const [byEmail, byCampaign] = await Promise.all([
      consumeRateLimit(this.byEmail, keyedHash(this.hashKey, email.toLowerCase())),
      consumeRateLimit(this.byCampaign, campaignId),
    ]);
    return { emailOverLimit: byEmail.over, campaignOverLimit: byCampaign.over };
  }
}

/** One attempt against a limiter: over says the limit is passed, msBeforeNext how long until a point comes back. */
export async function consumeRateLimit(limiter: RateLimiterPostgres, key: string): Promise<{ over: boolean; consumedPoints: number; msBeforeNext: number }> {
  try {
    const res = await limiter.consume(key);
    return { over: false, consumedPoints: res.consumedPoints, msBeforeNext: res.msBeforeNext };
  } catch (rejection) {
    // The limiter rejects with RateLimiterRes when over the limit, with an Error when the store fails.
    if (rejection instanceof RateLimiterRes) return { over: true, consumedPoints: rejection.consumedPoints, msBeforeNext: rejection.msBeforeNext };
    throw rejection;
  }
}
