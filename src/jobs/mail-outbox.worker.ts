import type { OutboxDelivery } from '../email/outbox-delivery';
import { OUTBOX_CHANNEL } from '../email/outbox';
import type { Logger } from '../logger';
import { QueueWorker } from './queue-worker';

export interface MailOutboxWorkerOptions {
  /** Where to LISTEN for queued mail; null: poll only. */
  connectionString: string | null;
  /** Fallback poll (retries wake the worker when they fall due, queued mail by NOTIFY). */
  pollMs?: number;
}

/**
 * Sends queued mail off the webhook's path (queue-worker.ts): woken by NOTIFY when a transaction
 * that queued mail commits, when a retry falls due, and by a poll. Several instances share the
 * outbox through SKIP LOCKED claims; what to send and how lives in src/email.
 */
export class MailOutboxWorker extends QueueWorker {
  constructor(delivery: OutboxDelivery, logger: Logger, opts: MailOutboxWorkerOptions) {
    super(delivery, logger, { connectionString: opts.connectionString, pollMs: opts.pollMs ?? 5_000, name: 'mail outbox', channel: OUTBOX_CHANNEL, concurrency: 1 });
  }
}
