import type { DataSource } from 'typeorm';
import { INBOX_CHANNEL } from '../../payments/stripe/webhook.service';
import { audit } from '../accounts/admin-accounts.service';
import { consoleTime } from '../console-time';
import { HEALTH_LIST_LIMIT } from './recurring-health';

/** Stripe event ids as the inbox stores them; anything else is no event of ours (a 404, never a query). */
const EVENT_ID = /^evt_[A-Za-z0-9_]{1,250}$/;
export const isEventId = (value: unknown): value is string => typeof value === 'string' && EVENT_ID.test(value);

/** The latest ignored events the page lists. */
export const IGNORED_LIST_LIMIT = 20;

/**
 * The webhook inbox at a glance: when Stripe last reached us, what became of the last day's
 * events, what still waits, the events parked as failed with their error, and the latest ignored ones with why. Every figure reads
 * an index (received_at, or a partial index per waiting status), never the whole inbox.
 */
export async function webhookHealth(dataSource: DataSource) {
  const [[latest], lastDay, [waiting], parked, ignored] = await Promise.all([
    dataSource.query(`SELECT max(received_at) AS at FROM stripe_events`) as Promise<{ at: Date | null }[]>,
    dataSource.query(
      `SELECT status, count(*)::int AS events FROM stripe_events WHERE received_at > now() - interval '24 hours' GROUP BY status ORDER BY status`,
    ) as Promise<{ status: string; events: number }[]>,
    dataSource.query(
      `SELECT (SELECT count(*) FROM stripe_events WHERE status = 'received')::int AS received,
              (SELECT count(*) FROM stripe_events WHERE status = 'deferred')::int AS deferred,
              (SELECT count(*) FROM stripe_events WHERE status = 'failed')::int AS failed`,
    ) as Promise<{ received: number; deferred: number; failed: number }[]>,
    dataSource.query(
      `SELECT id, type, attempts, last_error AS "lastError", received_at AS "receivedAt", stripe_created_at AS "createdAt",
              payload_purged_at IS NOT NULL AS purged
         FROM stripe_events WHERE status = 'failed' ORDER BY received_at DESC LIMIT $1`,
      [HEALTH_LIST_LIMIT],
    ) as Promise<{ id: string; type: string; attempts: number; lastError: string | null; receivedAt: Date; createdAt: Date; purged: boolean }[]>,
    // A walk down stripe_events_ignored_idx (migration 1764546000000): 20 rows whatever the inbox holds.
    dataSource.query(
      `SELECT id, type, outcome_reason AS reason, received_at AS "receivedAt"
         FROM stripe_events WHERE status = 'ignored' ORDER BY received_at DESC LIMIT $1`,
      [IGNORED_LIST_LIMIT],
    ) as Promise<{ id: string; type: string; reason: string | null; receivedAt: Date }[]>,
  ]);
  return {
    lastReceived: consoleTime(latest?.at ?? null),
    lastDay,
    waiting,
    parked: parked.map((e) => ({ id: e.id, type: e.type, attempts: e.attempts, error: e.lastError, received: consoleTime(e.receivedAt), created: consoleTime(e.createdAt), purged: e.purged })),
    ignored: ignored.map((e) => ({ id: e.id, type: e.type, reason: e.reason, received: consoleTime(e.receivedAt) })),
  };
}

export type RetryOutcome = 'requeued' | 'not_found' | 'not_parked' | 'payload_purged';

/**
 * Puts a parked event back in the inbox as new ('received', due now, its tries counted afresh), as
 * after fixing what made it fail (a campaign's currency, a missing row), and wakes the inbox
 * workers of every instance by NOTIFY on their channel (sent when the transaction commits).
 * The audit row keeps the error it had. An event whose payload was purged (its donor was erased)
 * is refused: what is left of it cannot be applied, and the inbox would treat that skeleton as the event.
 */
export async function retryParkedEvent(dataSource: DataSource, eventId: string, adminId: string): Promise<RetryOutcome> {
  return dataSource.transaction(async (tx) => {
    const [event]: { status: string; attempts: number; last_error: string | null; purged: boolean }[] = await tx.query(
      `SELECT status, attempts, last_error, payload_purged_at IS NOT NULL AS purged FROM stripe_events WHERE id = $1 FOR UPDATE`,
      [eventId],
    );
    if (!event) return 'not_found';
    if (event.status !== 'failed') return 'not_parked';
    if (event.purged) return 'payload_purged';
    await tx.query(
      `UPDATE stripe_events SET status = 'received', attempts = 0, last_error = NULL, next_attempt_at = now(), processed_at = NULL WHERE id = $1`,
      [eventId],
    );
    await tx.query(`SELECT pg_notify($1, '')`, [INBOX_CHANNEL]);
    await audit(tx, {
      adminId, action: 'stripe_event.retry', subjectType: 'stripe_event', subjectId: eventId,
      before: { status: event.status, attempts: event.attempts, lastError: event.last_error }, after: { status: 'received' },
    });
    return 'requeued';
  });
}
