import type { DataSource } from 'typeorm';
import type { Stripe } from './stripe-client';

export class WebhookSignatureError extends Error {}

/** The channel a stored event is announced on; the inbox worker LISTENs to it. */
export const INBOX_CHANNEL = 'kettle_stripe_events';

/** stored: new in the inbox; retried: known, and its backoff cut short; duplicate: nothing to do. */
export type ReceiveResult = 'stored' | 'retried' | 'duplicate';

/**
 * The webhook inbox's front door. Pattern (../shared/stripe/NOTES.md): verify, store the event
 * under its id (a redelivery finds it) and answer; the inbox worker (src/jobs/webhook-inbox.worker.ts)
 * applies it off the request path, so a surge costs one insert per delivery.
 */
export class WebhookService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly stripe: Stripe,
    private readonly webhookSecret: string,
  ) {}

  verify(rawBody: Buffer, signatureHeader: string | undefined): Stripe.Event {
    if (!signatureHeader) throw new WebhookSignatureError('Missing Stripe-Signature header');
    try {
      return this.stripe.webhooks.constructEvent(rawBody, signatureHeader, this.webhookSecret);
    } catch (err) {
      throw new WebhookSignatureError((err as Error).message);
    }
  }

  /**
   * Stores a verified event in the inbox, idempotently, and wakes the worker: one round trip.
   * A redelivery of an event waiting out a retry backoff makes it due now (Stripe retrying is as
   * good a moment as any); it never touches an event a worker holds for its first attempt.
   */
  async receive(event: Stripe.Event): Promise<ReceiveResult> {
    const rows: { how: 'stored' | 'retried' }[] = await this.dataSource.query(
      `WITH stored AS (
         INSERT INTO stripe_events (id, type, api_version, stripe_created_at, payload)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING
         RETURNING id
       ), retried AS (
         UPDATE stripe_events SET next_attempt_at = now()
          WHERE id = $1 AND status = 'received' AND attempts > 0 AND next_attempt_at > now()
         RETURNING id
       ), due AS (
         SELECT 'stored' AS how FROM stored UNION ALL SELECT 'retried' FROM retried
       )
       SELECT how, pg_notify($6, '') FROM due`,
      [event.id, event.type, event.api_version ?? null, new Date(event.created * 1000), JSON.stringify(event), INBOX_CHANNEL],
    );
    return rows[0]?.how ?? 'duplicate';
  }
}
