import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';

export interface DonateLimits {
  perIpPerHour: number;
  perEmailPerHour: number;
  perCampaignPerMinute: number;
}

export interface LimitHit {
  /** Seconds until another attempt is allowed. */
  retryAfterSeconds: number;
}

/** Keys are hashed: the counters table never holds an IP address or an email. */
const keyOf = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 40);

/**
 * Card testers send thousands of small donate attempts from a few IPs (../shared/stripe/NOTES.md).
 * Before any Checkout Session is created, each attempt counts against its IP, its email and its
 * campaign, in Postgres so the limits hold across instances.
 */
export class DonateLimiter {
  private readonly byIp: RateLimiterPostgres;
  private readonly byEmail: RateLimiterPostgres;
  private readonly byCampaign: RateLimiterPostgres;

  constructor(pool: Pool, limits: DonateLimits) {
    // The limiter names its prepared statements; the embedded PGlite shares one session between
    // all connections, where a second PREPARE of the same name fails. Unnamed queries work on both.
    const unnamed = { query: (q: { text: string; values?: unknown[] }) => pool.query({ text: q.text, values: q.values }) };
    const store = { storeClient: unnamed, storeType: 'pool', tableName: 'rate_limits', tableCreated: true };
    this.byIp = new RateLimiterPostgres({ ...store, keyPrefix: 'donate-ip', points: limits.perIpPerHour, duration: 3600 });
    this.byEmail = new RateLimiterPostgres({ ...store, keyPrefix: 'donate-email', points: limits.perEmailPerHour, duration: 3600 });
    this.byCampaign = new RateLimiterPostgres({ ...store, keyPrefix: 'donate-campaign', points: limits.perCampaignPerMinute, duration: 60 });
  }

  /** Every POST counts against its IP, valid or not: probing the form is an attempt too. */
  attemptFromIp(ip: string): Promise<LimitHit | null> {
    return consume(this.byIp, keyOf(ip));
  }

  /** A valid gift about to go to Stripe counts against its email and its campaign. */
  async giftAttempt(email: string, campaignId: string): Promise<LimitHit | null> {
    return (await consume(this.byEmail, keyOf(email.toLowerCase()))) ?? consume(this.byCampaign, campaignId);
  }
}

async function consume(limiter: RateLimiterPostgres, key: string): Promise<LimitHit | null> {
  try {
    await limiter.consume(key);
    return null;
  } catch (rejection) {
    // The limiter rejects with RateLimiterRes when over the limit, with an Error when the store fails.
    if (rejection instanceof RateLimiterRes) return { retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
    throw rejection;
  }
}
