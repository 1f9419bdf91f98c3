import type { DataSource } from 'typeorm';
import type { Stripe } from './stripe-client';

export class WebhookSignatureError extends Error {}

/** The channel a stored event is announced on; the inbox worker LISTENs to it. */
export const INBOX_CHANNEL = 'kettle_stripe_events';

/** stored: new in the inbox; retried: known, and its backoff cut short; duplicate: nothing to do. */
export type ReceiveResult = 'stored' | 'retried' | 'duplicate';

/** Storing statements under way at once per process, and the most events one of them stores. */
const STORING_AT_ONCE = 3;
const STORE_BATCH_MAX = 200;

/**
 * The webhook inbox's front door. Pattern (../shared/stripe/NOTES.md): verify, store the event
 * under its id (a redelivery finds it) and answer; the inbox worker (src/jobs/webhook-inbox.worker.ts)
 * applies it off the request path, so a surge costs a share of one multi-row insert per delivery.
 */
export class WebhookService {
  /** True while a storing statement that NOTIFYs is under way in this process. */
  private notifying = false;
  /** Events waiting for a storing statement, and how many such statements are under way. */
  private readonly waiting: { event: Stripe.Event; resolve: (how: ReceiveResult) => void; reject: (err: unknown) => void }[] = [];
  private storing = 0;

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
   * Stores a verified event in the inbox, idempotently, and wakes the workers. Under a surge,
   * events arriving while earlier ones are being stored go in together, one INSERT (and one
   * commit) for all of them; each request still answers only once its event is stored. Alone,
   * an event goes in at once: one round trip (two for a duplicate).
   * A redelivery of an event waiting out a retry backoff makes it due now (Stripe retrying is as
   * good a moment as any); it never touches an event a worker holds for its first attempt.
   *
   * This process's worker is woken directly. Other instances' workers are woken by NOTIFY, sent
   * by at most one storing statement at a time per process: Postgres serialises the commits of
   * notifying transactions (flush included), so a NOTIFY with every event would cap a surge at
   * one commit per disk flush. A missed NOTIFY costs nothing: the storing instance applies it.
   */
  receive(event: Stripe.Event): Promise<ReceiveResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ event, resolve, reject });
      this.storeWaiting();
    });
  }

  private storeWaiting(): void {
    while (this.storing < STORING_AT_ONCE && this.waiting.length) {
      const batch = this.waiting.splice(0, STORE_BATCH_MAX);
      this.storing += 1;
      void this.storeBatch(batch).finally(() => {
        this.storing -= 1;
        this.storeWaiting();
      });
    }
  }

  private async storeBatch(batch: typeof this.waiting): Promise<void> {
    const notify = !this.notifying;
    if (notify) this.notifying = true;
    let stored: Set<string>;
    try {
      stored = batch.length === 1 ? new Set() : await this.insertMany(batch.map((b) => b.event), notify);
    } catch {
      stored = new Set(); // one bad event must not fail its neighbours: each goes in alone below
    } finally {
      if (notify) this.notifying = false;
    }
    await Promise.all(batch.map(async ({ event, resolve, reject }) => {
      try {
        // The first of a batch's copies of one event was stored; the others are duplicates.
        const how = stored.delete(event.id) ? 'stored' : await this.receiveOne(event);
        if (how !== 'duplicate') this.onStored();
        resolve(how);
      } catch (err) {
        reject(err);
      }
    }));
  }

  private async insertMany(events: Stripe.Event[], notify: boolean): Promise<Set<string>> {
    const rows: { id: string }[] = await this.dataSource.query(
      `INSERT INTO stripe_events (id, type, api_version, stripe_created_at, payload)
       SELECT id, type, api_version, created, payload::jsonb
         FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS e(id, type, api_version, created, payload)
       ON CONFLICT (id) DO NOTHING
       RETURNING id, CASE WHEN $7 THEN pg_notify($6, '') END`,
      [events.map((e) => e.id), events.map((e) => e.type), events.map((e) => e.api_version ?? null),
        events.map((e) => new Date(e.created * 1000)), events.map((e) => JSON.stringify(e)), INBOX_CHANNEL, notify],
    );
    return new Set(rows.map((r) => r.id));
  }

  private async receiveOne(event: Stripe.Event): Promise<ReceiveResult> {
    const notify = !this.notifying;
    if (notify) this.notifying = true;
    try {
      return await this.store(event, notify);
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
