import type { DataSource } from 'typeorm';
import type { Logger } from '../logger';

export interface RetentionSummary {
  /** Data older than this was purged. */
  cutoff: Date;
  /** Processed or ignored webhook events whose payload (names, emails, addresses) was emptied. */
  eventPayloadsPurged: number;
  /** Checkout intents that never became a gift, stripped of the donor's details. */
  intentsPurged: number;
  /** Donor and admin sessions past their expiry, deleted. */
  sessionsPurged: number;
  /** Sign-in links (used or not) expired for over a day, deleted: the day lets a late click still be told "expired". */
  signInLinksPurged: number;
}

const BATCH = 1_000;

/**
 * What a checkout intent holds about a person, as an UPDATE's SET list that forgets it: the
 * retention purge and a donor's erasure (src/admin/donors) both use it, so "the personal data of
 * a gift" has one definition. Amounts, campaign, status and dates stay: the ledger points at them.
 */
export const FORGET_INTENT_PERSONAL_DATA = `email = '', donor_name = NULL, comment = NULL, dedication = NULL, newsletter = false, personal_data_purged_at = now()`;

/**
 * What a stored Stripe event holds about a person (names, emails, addresses: anywhere in its
 * object), as an UPDATE stripe_events SET list that forgets it, keeping the event's id, type,
 * created time and the id and kind of the object it was about. The retention purge and a donor's
 * erasure both use it. Only for events the inbox is done with: a purged payload can never be
 * applied, so the inbox never claims one again (it claims 'received' only) and a parked one is
 * not put back (retryParkedEvent refuses it).
 */
export const FORGET_EVENT_PAYLOAD = `payload = jsonb_build_object(
    'id', stripe_events.id, 'object', 'event', 'type', stripe_events.type, 'created', stripe_events.payload->'created',
    'data', jsonb_build_object('object', jsonb_build_object(
      'id', stripe_events.payload->'data'->'object'->'id', 'object', stripe_events.payload->'data'->'object'->'object'))),
  payload_purged_at = now()`;

/**
 * Forgets personal data Kettle no longer needs once the retention period has passed (finding 8).
 * What the ledger's proofs rely on stays: ledger rows are never touched, and a purged event keeps
 * its id, type, status, dates and the id of the Stripe object it was about. Events still waiting
 * (received, deferred, failed) keep their payload: they have yet to be applied or looked at.
 */
export class RetentionService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly retentionDays: number,
    private readonly logger: Logger,
  ) {}

  async purge(now = new Date()): Promise<RetentionSummary> {
    const cutoff = new Date(now.getTime() - this.retentionDays * 86_400_000);
    const eventPayloadsPurged = await this.inBatches(
      `WITH due AS (
         SELECT id FROM stripe_events
          WHERE status IN ('processed', 'ignored') AND payload_purged_at IS NULL AND coalesce(processed_at, received_at) < $1
          LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
       UPDATE stripe_events SET ${FORGET_EVENT_PAYLOAD}
         FROM due WHERE stripe_events.id = due.id`,
      cutoff,
    );
    // Abandoned: closed without paying, or never finished (a Checkout Session lives 24 hours at most).
    const intentsPurged = await this.inBatches(
      `WITH due AS (
         SELECT id FROM checkout_intents
          WHERE status <> 'completed' AND personal_data_purged_at IS NULL AND created_at < $1
            -- A gift counted from this intent (its first invoice.paid applied before the session event) is no abandoned checkout.
            AND NOT EXISTS (SELECT 1 FROM ledger_entries g WHERE g.checkout_intent_id = checkout_intents.id)
          LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
       UPDATE checkout_intents i
          SET ${FORGET_INTENT_PERSONAL_DATA}
         FROM due WHERE i.id = due.id`,
      cutoff,
    );
    // Expired sign-in sessions, whatever the retention period: the session store's own prune
    // timer is off, so that one purge serves every instance.
    const sessionsPurged = await this.inBatches(
      `WITH due AS (SELECT sid FROM web_sessions WHERE expire < now() LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
       DELETE FROM web_sessions s USING due WHERE s.sid = due.sid`,
    );
    const signInLinksPurged = await this.inBatches(
      `WITH due AS (SELECT id FROM donor_sign_in_tokens WHERE expires_at < now() - interval '1 day' LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
       DELETE FROM donor_sign_in_tokens t USING due WHERE t.id = due.id`,
    );
    const summary = { cutoff, eventPayloadsPurged, intentsPurged, sessionsPurged, signInLinksPurged };
    this.logger.info(summary, 'purged personal data past the retention period');
    return summary;
  }

  /** Short transactions, so a large first purge never holds many rows locked at once. */
  private async inBatches(sql: string, ...params: unknown[]): Promise<number> {
    let total = 0;
    for (;;) {
      const [, affected] = (await this.dataSource.query(sql, params)) as [unknown, number];
      total += affected;
      if (affected < BATCH) return total;
    }
  }
}
