import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from '../../logger';
import { LedgerError } from '../../ledger/ledger.service';
import { TotalsAccumulator } from '../../ledger/totals-accumulator';
import { applyPaidSessions, isPaidOneOffSession } from './checkout-gifts';
import type { EventOutcome, PreparedEvent, StripeEventHandlers } from './event-handlers';
import type { StripeEventStatus } from './stripe-event.entity';
import type { Stripe } from './stripe-client';

export interface InboxPolicy {
  /** Events claimed and applied in one transaction. */
  batchSize: number;
  /** How long a claimed event stays hidden from other workers; a crashed worker's batch returns after it. */
  leaseMs: number;
  /** Tries before an event that keeps failing is parked as 'failed' for a person. */
  maxAttempts: number;
  /** Wait after the first failed try, doubled after each further one, up to backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Paid one-off gifts applied together, set-based (false: every event by the per-event handler). */
  setBasedGifts: boolean;
}

/** 12 tries over about 3.4 hours (10 s, 20 s, … capped at 1 h); Stripe's own redeliveries cut a wait short. */
export const DEFAULT_INBOX_POLICY: InboxPolicy = {
  batchSize: 100,
  leaseMs: 60_000,
  maxAttempts: 12,
  backoffBaseMs: 10_000,
  backoffMaxMs: 3_600_000,
  setBasedGifts: true,
};

interface ClaimedEvent {
  id: string;
  attempts: number;
  event: Stripe.Event;
  prepared?: PreparedEvent;
  prepareError?: unknown;
}

/** What becomes of one event's inbox row at the end of its batch. */
interface Settlement {
  status: StripeEventStatus;
  awaiting: string | null;
  reason: string | null;
  error: string | null;
  /** 1 when this was a real try (counts towards parking), 0 when a deadlock or the like interrupted it. */
  counted: 0 | 1;
  /** For a 'received' event: when to try again. */
  delayMs: number;
}

/** Postgres errors that say "try again", not "this event is bad": deadlock, serialization, lock timeout. */
const TRANSIENT_SQLSTATES = new Set(['40P01', '40001', '55P03']);

/**
 * Applies the events the webhook route stored, in batches: claim due events (SKIP LOCKED, so
 * several workers and instances share the inbox), read what they need from Stripe before any
 * transaction opens, then apply them in one transaction: paid one-off gifts together, set-based
 * (checkout-gifts.ts), the rest event by event, under savepoints once a first try failed so one
 * bad event cannot sink the others, with the kept totals moved once per campaign just before commit.
 */
export class StripeInbox {
  constructor(
    private readonly dataSource: DataSource,
    private readonly handlers: StripeEventHandlers,
    private readonly logger: Logger,
    readonly policy: InboxPolicy = DEFAULT_INBOX_POLICY,
  ) {}

  /** Claims, prepares and applies one batch of due events; returns how many it claimed (0: nothing due). */
  async runBatch(): Promise<number> {
    const claimed = await this.claim();
    if (claimed.length === 0) return 0;
    await this.prepare(claimed);
    // First without savepoints (two round trips fewer per event): almost every batch applies
    // cleanly. If any event throws, the whole transaction rolls back and the batch runs again,
    // each event under a savepoint, so the bad one is set aside and the others still apply.
    try {
      await this.apply(claimed, false);
      return claimed.length;
    } catch {
      // Nothing of it was written; the second pass finds out which event it was.
    }
    try {
      await this.apply(claimed, true);
    } catch (err) {
      // The batch as a whole failed (a deadlock on commit, the database gone, a failing totals
      // update): nothing of it was written. Try its events one by one, so one cannot hold back the rest.
      if (claimed.length === 1) {
        await this.noteFailure(claimed[0], err);
      } else {
        this.logger.warn({ err, events: claimed.length }, 'stripe event batch failed; applying its events one by one');
        for (const item of claimed) await this.apply([item], true).catch((e) => this.noteFailure(item, e));
      }
    }
    return claimed.length;
  }

  /**
   * Deferred events (a refund that came before its gift) whose gift now exists become due again.
   * The gift's own batch does this at once; this catches a gift committed by another worker while
   * the deferred event's batch was still deciding to wait. Optionally only for the given events.
   */
  async requeueReadyDeferred(manager: EntityManager = this.dataSource.manager, eventIds: string[] | null = null): Promise<number> {
    const [, count] = await manager.query(
      `UPDATE stripe_events e SET status = 'received', awaiting = NULL, next_attempt_at = now()
        WHERE e.status = 'deferred' AND ($1::text[] IS NULL OR e.id = ANY($1))
          AND EXISTS (SELECT 1 FROM ledger_entries g WHERE g.stripe_payment_intent_id = e.awaiting AND g.kind = 'gift')`,
      [eventIds],
    );
    return count;
  }

  private async claim(): Promise<ClaimedEvent[]> {
    const [rows] = await this.dataSource.query(
      `UPDATE stripe_events e SET next_attempt_at = now() + $2 * interval '1 millisecond'
         FROM (SELECT id FROM stripe_events WHERE status = 'received' AND next_attempt_at <= now()
                ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
        WHERE e.id = due.id
       RETURNING e.id, e.attempts, e.payload`,
      [this.policy.batchSize, this.policy.leaseMs],
    ) as [{ id: string; attempts: number; payload: Stripe.Event }[], number];
    return rows
      .map((r) => ({ id: r.id, attempts: r.attempts, event: r.payload }))
      .sort((a, b) => a.event.created - b.event.created || (a.id < b.id ? -1 : 1));
  }

  /** Stripe reads happen here, outside any transaction, a few at a time. */
  private async prepare(claimed: ClaimedEvent[]): Promise<void> {
    const queue = [...claimed];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        try {
          item.prepared = await this.handlers.prepare(item.event);
        } catch (err) {
          item.prepareError = err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, claimed.length) }, worker));
  }

  /** Applies the batch in one transaction; with `savepoints`, a failing event is recorded as such instead of aborting it. */
  private async apply(items: ClaimedEvent[], savepoints: boolean): Promise<void> {
    const settled = await this.dataSource.transaction(async (tx) => {
      // Another worker may have applied one of these since the claim (a lease ran out): skip those.
      const open: { id: string }[] = await tx.query(
        `SELECT id FROM stripe_events WHERE id = ANY($1) AND status = 'received' ORDER BY id FOR UPDATE`,
        [items.map((i) => i.id)],
      );
      const openIds = new Set(open.map((r) => r.id));
      const todo = items.filter((i) => openIds.has(i.id));
      const totals = new TotalsAccumulator();
      const recorded = new Set<string>();
      const settlements = new Map<string, Settlement>();
      const applyOne = savepoints ? this.applyUnderSavepoint.bind(this) : this.applyOrThrow.bind(this);
      const rest = await this.applyGiftsSetBased(tx, todo, savepoints, totals, recorded, settlements);
      for (const item of rest) settlements.set(item.id, await applyOne(tx, item, totals, recorded));
      // A refund that came before its gift in this very batch can run now.
      for (const item of todo) {
        const s = settlements.get(item.id)!;
        if (s.status === 'deferred' && s.awaiting && recorded.has(s.awaiting)) settlements.set(item.id, await applyOne(tx, item, totals, recorded));
      }
      await this.write(tx, settlements);
      if (recorded.size) await this.requeueAwaiting(tx, [...recorded]);
      // Last before commit: the campaign's hot totals row is held only from here to the commit.
      await totals.flush(tx);
      return settlements;
    });

    const deferred = [...settled].filter(([, s]) => s.status === 'deferred').map(([id]) => id);
    if (deferred.length) await this.requeueReadyDeferred(this.dataSource.manager, deferred);
    this.logOutcomes(items, settled);
  }

  /**
   * Paid one-off gifts, the bulk of a surge, go in together, a handful of statements for all of
   * them; returns the events left for the per-event path (every other kind, and gifts the
   * set-based path declined). With `savepoints`, a failure of the set-based path is undone and
   * all its gifts are left to the per-event path, which sets the bad one aside.
   */
  private async applyGiftsSetBased(
    tx: EntityManager, todo: ClaimedEvent[], savepoints: boolean, totals: TotalsAccumulator, recorded: Set<string>,
    settlements: Map<string, Settlement>,
  ): Promise<ClaimedEvent[]> {
    if (!this.policy.setBasedGifts) return todo;
    const gifts = todo.filter((item) => item.prepareError === undefined && isPaidOneOffSession(item.event));
    if (gifts.length === 0) return todo;
    const own = new TotalsAccumulator();
    if (savepoints) await tx.query('SAVEPOINT inbox_gifts');
    let applied: Awaited<ReturnType<typeof applyPaidSessions>>;
    try {
      applied = await applyPaidSessions(tx, gifts, own);
    } catch (err) {
      if (!savepoints) throw err;
      await tx.query('ROLLBACK TO SAVEPOINT inbox_gifts');
      await tx.query('RELEASE SAVEPOINT inbox_gifts');
      this.logger.warn({ err, events: gifts.length }, 'stripe gift events failed together; applying them one by one');
      return todo;
    }
    if (savepoints) await tx.query('RELEASE SAVEPOINT inbox_gifts');
    totals.merge(own);
    for (const [id, outcome] of applied.outcomes) settlements.set(id, this.success(outcome, recorded));
    return todo.filter((item) => !applied.outcomes.has(item.id));
  }

  /** Applies one event; any error aborts the whole transaction (the first, optimistic pass). */
  private async applyOrThrow(tx: EntityManager, item: ClaimedEvent, totals: TotalsAccumulator, recorded: Set<string>): Promise<Settlement> {
    if (item.prepareError !== undefined) return this.failure(item, item.prepareError);
    const outcome = await this.handlers.apply(tx, item.event, item.prepared ?? {}, totals);
    return this.success(outcome, recorded);
  }

  /** Applies one event under a savepoint: if it fails, its writes and totals moves are undone, the batch goes on. */
  private async applyUnderSavepoint(tx: EntityManager, item: ClaimedEvent, totals: TotalsAccumulator, recorded: Set<string>): Promise<Settlement> {
    if (item.prepareError !== undefined) return this.failure(item, item.prepareError);
    const own = new TotalsAccumulator();
    await tx.query('SAVEPOINT inbox_event');
    let outcome: EventOutcome;
    try {
      outcome = await this.handlers.apply(tx, item.event, item.prepared ?? {}, own);
    } catch (err) {
      await tx.query('ROLLBACK TO SAVEPOINT inbox_event');
      await tx.query('RELEASE SAVEPOINT inbox_event');
      return this.failure(item, err);
    }
    await tx.query('RELEASE SAVEPOINT inbox_event');
    totals.merge(own);
    return this.success(outcome, recorded);
  }

  private success(outcome: EventOutcome, recorded: Set<string>): Settlement {
    for (const paymentIntentId of outcome.recordedPaymentIntents ?? []) recorded.add(paymentIntentId);
    return { status: outcome.status, awaiting: outcome.awaiting ?? null, reason: outcome.reason ?? null, error: null, counted: 1, delayMs: 0 };
  }

  /** What a failed try means: try again soon, after a backoff, or park it for a person. */
  private failure(item: ClaimedEvent, err: unknown): Settlement {
    const message = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
    const base = { awaiting: null, reason: null, error: message };
    if (TRANSIENT_SQLSTATES.has((err as { code?: string })?.code ?? '')) {
      return { ...base, status: 'received', counted: 0, delayMs: 0 };
    }
    const attempt = item.attempts + 1;
    // A LedgerError cannot be fixed by trying again (say, a currency the campaign does not count in).
    if (err instanceof LedgerError || attempt >= this.policy.maxAttempts) {
      this.logger.error({ event: item.id, type: item.event.type, attempts: attempt, reason: message }, 'stripe event cannot be applied; parked for a person to look at');
      return { ...base, status: 'failed', counted: 1, delayMs: 0 };
    }
    const delayMs = Math.min(this.policy.backoffBaseMs * 2 ** (attempt - 1), this.policy.backoffMaxMs);
    this.logger.warn({ event: item.id, type: item.event.type, attempts: attempt, retryInMs: delayMs, reason: message }, 'stripe event not applied; will try again');
    return { ...base, status: 'received', counted: 1, delayMs };
  }

  /** Records a failed try when its whole transaction failed; if the database is gone too, the lease brings it back. */
  private async noteFailure(item: ClaimedEvent, err: unknown): Promise<void> {
    try {
      await this.write(this.dataSource.manager, new Map([[item.id, this.failure(item, err)]]), `AND e.status = 'received'`);
    } catch (writeErr) {
      this.logger.error({ err: writeErr, event: item.id }, 'could not record a failed stripe event try; it returns when its lease ends');
    }
  }

  private async write(manager: EntityManager, settlements: Map<string, Settlement>, guard = ''): Promise<void> {
    if (settlements.size === 0) return;
    const rows = [...settlements];
    await manager.query(
      `UPDATE stripe_events e
          SET status = u.status, awaiting = u.awaiting, outcome_reason = u.reason, last_error = u.error,
              attempts = e.attempts + u.counted,
              next_attempt_at = now() + u.delay_ms * interval '1 millisecond',
              processed_at = CASE WHEN u.status IN ('processed', 'ignored') THEN now() END
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[])
              AS u(id, status, awaiting, reason, error, counted, delay_ms)
        WHERE e.id = u.id ${guard}`,
      [rows.map(([id]) => id), rows.map(([, s]) => s.status), rows.map(([, s]) => s.awaiting), rows.map(([, s]) => s.reason),
        rows.map(([, s]) => s.error), rows.map(([, s]) => s.counted), rows.map(([, s]) => s.delayMs)],
    );
  }

  /** Events other batches deferred until one of these gifts existed: due now, in this same commit. */
  private async requeueAwaiting(tx: EntityManager, paymentIntentIds: string[]): Promise<void> {
    await tx.query(
      `UPDATE stripe_events SET status = 'received', awaiting = NULL, next_attempt_at = now()
        WHERE status = 'deferred' AND awaiting = ANY($1)`,
      [paymentIntentIds],
    );
  }

  private logOutcomes(items: ClaimedEvent[], settled: Map<string, Settlement>) {
    const byStatus: Record<string, number> = {};
    for (const item of items) {
      const s = settled.get(item.id);
      const status = s?.status ?? 'already done';
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (s?.status === 'ignored') this.logger.info({ event: item.id, type: item.event.type, reason: s.reason }, 'stripe event ignored');
    }
    this.logger.info({ events: items.length, ...byStatus }, 'stripe events applied');
  }
}
