import type { DataSource } from 'typeorm';
import type { Logger } from '../logger';

export type SecurityAlertKind = 'donate_challenge_campaign' | 'donate_challenge_ip' | 'donate_challenge_email' | 'donate_ip_ceiling';

const DESCRIPTIONS: Record<SecurityAlertKind, string> = {
  donate_challenge_campaign: 'more donate attempts than DONATE_LIMIT_PER_CAMPAIGN_PER_MINUTE: the form now asks every donor for a challenge',
  donate_challenge_ip: 'an IP network went over DONATE_LIMIT_PER_IP_PER_HOUR: its donate attempts now need a challenge',
  donate_challenge_email: 'an email went over DONATE_LIMIT_PER_EMAIL_PER_HOUR: its donate attempts now need a challenge',
  donate_ip_ceiling: 'an IP network went over DONATE_HARD_LIMIT_PER_IP_PER_HOUR: it is refused with 429',
};

const WINDOW_MS = 60 * 60_000;
/** Later occurrences in a window are counted in memory and written at most this often per alert. */
const FLUSH_EVERY_MS = 10_000;

interface Pending { windowStart: number; count: number; lastFlush: number }

/**
 * Tells admins about an attack on the donate form while there is no admin console: one warn-level
 * log line per kind, campaign and hour (across instances: the row's insert decides), and a durable
 * row in security_alerts with first and last time and a count, for the console to show.
 */
export class SecurityAlerts {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly dataSource: DataSource, private readonly logger: Logger) {}

  async record(kind: SecurityAlertKind, campaign: { id: string; slug: string }, now = new Date()): Promise<void> {
    const windowStart = Math.floor(now.getTime() / WINDOW_MS) * WINDOW_MS;
    const key = `${kind}:${campaign.id}`;
    const seen = this.pending.get(key);
    if (seen && seen.windowStart === windowStart) {
      seen.count += 1;
      // Under attack this runs for every request: keep the hot row out of the request path.
      if (now.getTime() - seen.lastFlush < FLUSH_EVERY_MS) return;
      const count = seen.count;
      seen.count = 0;
      seen.lastFlush = now.getTime();
      await this.upsert(kind, campaign, windowStart, count, now);
      return;
    }
    this.pending.set(key, { windowStart, count: 0, lastFlush: now.getTime() });
    const inserted = await this.upsert(kind, campaign, windowStart, 1, now);
    if (inserted) this.logger.warn({ alert: kind, campaign: campaign.slug }, `security alert: ${DESCRIPTIONS[kind]} (campaign ${campaign.slug})`);
  }

  /** True when this call opened the window's row. */
  private async upsert(kind: SecurityAlertKind, campaign: { id: string }, windowStart: number, count: number, now: Date): Promise<boolean> {
    try {
      const rows: { inserted: boolean }[] = await this.dataSource.query(
        `INSERT INTO security_alerts (kind, campaign_id, window_start, first_at, last_at, count)
         VALUES ($1, $2, $3, $4, $4, $5)
         ON CONFLICT (kind, campaign_id, window_start)
         DO UPDATE SET last_at = GREATEST(security_alerts.last_at, EXCLUDED.last_at), count = security_alerts.count + EXCLUDED.count
         RETURNING (xmax = 0) AS inserted`,
        [kind, campaign.id, new Date(windowStart), now, count],
      );
      return rows[0]?.inserted === true;
    } catch (err) {
      // An alert that cannot be written must not turn a donor's request into an error.
      this.logger.error({ err, alert: kind }, 'could not record a security alert');
      return false;
    }
  }
}
