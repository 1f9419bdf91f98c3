import type { DataSource } from 'typeorm';
import type { Logger } from '../../logger';
import { LedgerError } from '../../ledger/ledger.service';
import type { EventOutcome, StripeEventHandlers } from './event-handlers';
import type { Stripe } from './stripe-client';

export class WebhookSignatureError extends Error {}

export type DeliveryResult = EventOutcome['status'] | 'duplicate' | 'failed';

/**
 * The webhook inbox. Pattern (../shared/stripe/NOTES.md): verify, store the event under its id
 * (a redelivery finds it), apply its effects and mark it done in one transaction. A failure rolls
 * everything back and surfaces as 5xx, so Stripe's retry applies it exactly once later.
 */
export class WebhookService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly stripe: Stripe,
    private readonly webhookSecret: string,
    private readonly handlers: StripeEventHandlers,
    private readonly logger: Logger,
  ) {}

  verify(rawBody: Buffer, signatureHeader: string | undefined): Stripe.Event {
    if (!signatureHeader) throw new WebhookSignatureError('Missing Stripe-Signature header');
    try {
      return this.stripe.webhooks.constructEvent(rawBody, signatureHeader, this.webhookSecret);
    } catch (err) {
      throw new WebhookSignatureError((err as Error).message);
    }
  }

  async receive(event: Stripe.Event): Promise<DeliveryResult> {
    await this.dataSource.query(
      `INSERT INTO stripe_events (id, type, api_version, stripe_created_at, payload)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
      [event.id, event.type, event.api_version ?? null, new Date(event.created * 1000), JSON.stringify(event)],
    );
    return this.process(event.id);
  }

  /** Applies a stored event unless it is already done. Also used to retry deferred events. */
  async process(eventId: string): Promise<DeliveryResult> {
    const [stored] = await this.dataSource.query(`SELECT status, payload FROM stripe_events WHERE id = $1`, [eventId]);
    if (!stored) throw new Error(`Event ${eventId} is not in the inbox`);
    if (stored.status === 'processed' || stored.status === 'ignored') return 'duplicate';
    const event = stored.payload as Stripe.Event;

    let outcome: EventOutcome | 'duplicate';
    try {
      const prepared = await this.handlers.prepare(event);
      outcome = await this.dataSource.transaction(async (tx) => {
        const [row] = await tx.query(`SELECT status FROM stripe_events WHERE id = $1 FOR UPDATE`, [eventId]);
        if (row.status === 'processed' || row.status === 'ignored') return 'duplicate' as const;
        const result = await this.handlers.apply(tx, event, prepared);
        await tx.query(
          `UPDATE stripe_events SET status = $2, awaiting = $3, attempts = attempts + 1, last_error = NULL,
                  processed_at = CASE WHEN $2 = 'deferred' THEN NULL ELSE now() END
            WHERE id = $1`,
          [eventId, result.status, result.awaiting ?? null],
        );
        return result;
      });
    } catch (err) {
      if (err instanceof LedgerError) {
        // Retrying cannot fix it (say, a currency the campaign does not count in): park it for a person.
        await this.markFailed(eventId, err);
        return 'failed';
      }
      await this.noteFailure(eventId, err as Error);
      throw err;
    }
    if (outcome === 'duplicate') return outcome;

    this.logger.info({ event: eventId, type: event.type, outcome: outcome.status, reason: outcome.reason }, 'stripe event applied');
    const ready = [...(outcome.recordedPaymentIntents ?? [])];
    // The gift may have been committed by a concurrent delivery while this event was deciding to wait.
    if (outcome.status === 'deferred' && outcome.awaiting && await this.giftExists(outcome.awaiting)) ready.push(outcome.awaiting);
    for (const paymentIntentId of ready) {
      await this.runDeferred(paymentIntentId).catch((err) => this.logger.error({ err, paymentIntentId }, 'deferred events failed; the periodic retry will pick them up'));
    }
    return outcome.status;
  }

  private async giftExists(paymentIntentId: string): Promise<boolean> {
    const rows = await this.dataSource.query(`SELECT 1 FROM ledger_entries WHERE stripe_payment_intent_id = $1 AND kind = 'gift'`, [paymentIntentId]);
    return rows.length > 0;
  }

  /**
   * Re-runs what a crash or an outage may have left behind: deferred events whose gift now exists,
   * and received events never completed. The server runs it at boot and every minute.
   */
  async retryUnfinished(): Promise<number> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT e.id FROM stripe_events e
        WHERE e.status = 'received'
           OR (e.status = 'deferred' AND EXISTS (SELECT 1 FROM ledger_entries g WHERE g.stripe_payment_intent_id = e.awaiting))
        ORDER BY e.stripe_created_at, e.id`,
    );
    let applied = 0;
    for (const { id } of rows) {
      // One event that still fails must not hold back the others.
      try {
        await this.process(id);
        applied += 1;
      } catch {
        // Already logged and noted on the event by process().
      }
    }
    return applied;
  }

  /** Events that arrived before the gift they adjust (a refund before its payment) run once it exists. */
  private async runDeferred(paymentIntentId: string) {
    const waiting: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM stripe_events WHERE status = 'deferred' AND awaiting = $1 ORDER BY stripe_created_at, id`,
      [paymentIntentId],
    );
    for (const { id } of waiting) await this.process(id);
  }

  private async markFailed(eventId: string, err: Error) {
    this.logger.error({ event: eventId, reason: err.message }, 'stripe event cannot be applied; it needs a person to look at it');
    await this.dataSource.query(
      `UPDATE stripe_events SET status = 'failed', attempts = attempts + 1, last_error = $2 WHERE id = $1`,
      [eventId, err.message.slice(0, 1000)],
    );
  }

  private async noteFailure(eventId: string, err: Error) {
    this.logger.error({ event: eventId, err }, 'stripe event failed; Stripe will retry');
    try {
      await this.dataSource.query(
        `UPDATE stripe_events SET attempts = attempts + 1, last_error = $2 WHERE id = $1`,
        [eventId, err.message.slice(0, 1000)],
      );
    } catch {
      // The database may be the thing that failed; the retry will find the event unprocessed either way.
    }
  }
}
