import type { Logger } from '../logger';
import type { StripeInbox } from '../payments/stripe/inbox';
import { INBOX_CHANNEL } from '../payments/stripe/webhook.service';
import { QueueWorker } from './queue-worker';

export interface WebhookInboxWorkerOptions {
  /** Where to LISTEN for new events; null: poll only. */
  connectionString: string | null;
  /** Fallback poll: a lost notification (a dropped LISTEN connection) strands nothing longer than this. */
  pollMs?: number;
  /**
   * Batches applied at the same time by this process while a backlog lasts (default 2). Applying
   * waits mostly on round trips, so a second batch works while the first waits; they queue on a
   * campaign's totals row only from its update to the commit.
   */
  concurrency?: number;
}

/**
 * Drains the webhook inbox off the request path, in every instance (queue-worker.ts): woken at
 * once when this process stores an event, by NOTIFY when another instance does, and by a poll.
 * Before each drain, deferred events whose gift now exists become due again.
 */
export class WebhookInboxWorker extends QueueWorker {
  constructor(inbox: StripeInbox, logger: Logger, opts: WebhookInboxWorkerOptions) {
    super(
      { runBatch: () => inbox.runBatch(), beforeDrain: () => inbox.requeueReadyDeferred() },
      logger,
      { ...opts, name: 'webhook inbox', channel: INBOX_CHANNEL },
    );
  }
}
