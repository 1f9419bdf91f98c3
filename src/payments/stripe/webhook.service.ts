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
  /** True while a storing statement that NOTIFYs is under way in this process. */
  private notifying = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly stripe: Stripe,
    private readonly webhookSecret: string,
    /** Wakes this process's inbox worker once an event is stored (no round trip to the database). */
    private readonly onStored: () => void = () => undefined,
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
   * Stores a verified event in the inbox, idempotently, and wakes the workers: one round trip
   * (two for a duplicate).
   * A redelivery of an event waiting out a retry backoff makes it due now (Stripe retrying is as
   * good a moment as any); it never touches an event a worker holds for its first attempt.
   *
   * This process's worker is woken directly. Other instances' workers are woken by NOTIFY, sent
   * by at most one storing statement at a time per process: Postgres serialises the commits of
   * notifying transactions (flush included), so a NOTIFY with every event would cap a surge at
   * one commit per disk flush. A missed NOTIFY costs nothing: the storing instance applies it.
   */
  async receive(event: Stripe.Event): Promise<ReceiveResult> {
    const notify = !this.notifying;
    if (notify) this.notifying = true;
    try {
      const how = await this.store(event, notify);
      if (how !== 'duplicate') this.onStored();
      return how;
    } finally {
      if (notify) this.notifying = false;
    }
  }

  /**
   * A plain INSERT on the common path: a CTE that also tried the backoff update cost half the
   * storing rate under a surge. Only a duplicate pays a second statement.
   */
  private async store(event: Stripe.Event, notify: boolean): Promise<ReceiveResult> {
    const stored: unknown[] = await this.dataSource.query(
      `INSERT INTO stripe_events (id, type, api_version, stripe_created_at, payload)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING
       RETURNING CASE WHEN $7 THEN pg_notify($6, '') END`,
      [event.id, event.type, event.api_version ?? null, new Date(event.created * 1000), JSON.stringify(event), INBOX_CHANNEL, notify],
    );
    if (stored.length) return 'stored';
    const [retried] = await this.dataSource.query(
      `UPDATE stripe_events SET next_attempt_at = now()
        WHERE id = $1 AND status = 'received' AND attempts > 0 AND next_attempt_at > now()
       RETURNING CASE WHEN $3 THEN pg_notify($2, '') END`,
      [event.id, INBOX_CHANNEL, notify],
    ) as [unknown[], number];
    return retried.length ? 'retried' : 'duplicate';
  }
}
