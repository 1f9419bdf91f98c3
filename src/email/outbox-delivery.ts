import type { DataSource } from 'typeorm';
import type { Logger } from '../logger';
import type { MailContext, MailRecipient, RenderOutcome } from './mails/mail';
import { MAIL_RENDERERS } from './mails';
import type { Mailer } from './mailer';
import type { MailKind } from './outbox';

export interface OutboxPolicy {
  /** Mails claimed at once. */
  batchSize: number;
  /** Mails of a batch sent at the same time. */
  sendConcurrency: number;
  /** How long a claimed mail stays hidden from other workers; a crashed worker's mail returns after it. */
  leaseMs: number;
  /** Tries before a mail that keeps failing is parked as 'failed' for a person. */
  maxAttempts: number;
  /** Wait after the first failed try, doubled after each further one, up to backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/**
 * 30 s, 1 min, 2 min … then hourly: 56 tries span about two days, so a mail server down over a
 * weekend night loses nothing. The lease outlasts the SMTP timeouts (mailer.ts) many times over.
 */
export const DEFAULT_OUTBOX_POLICY: OutboxPolicy = {
  batchSize: 20,
  sendConcurrency: 3,
  leaseMs: 120_000,
  maxAttempts: 56,
  backoffBaseMs: 30_000,
  backoffMaxMs: 3_600_000,
};

interface ClaimedMail {
  id: string;
  kind: string;
  params: Record<string, unknown>;
  attempts: number;
  donor_id: string | null;
  donor_email: string | null;
  donor_name: string | null;
}

type Settlement =
  | { status: 'sent'; subject: string }
  | { status: 'skipped'; reason: string }
  | { status: 'pending' | 'failed'; error: string; delayMs: number };

/**
 * Sends the mails queued in email_outbox (outbox.ts): claims due rows (SKIP LOCKED, with a lease),
 * renders each from current data (mails/), sends it, and records what happened.
 *
 * Exactly once in the normal case: a row is marked sent after the SMTP server accepted it. A crash
 * (or the database going away) between the server's acceptance and that mark sends it again when
 * the lease runs out; the Message-ID is the same on every try (mailer.ts), so receivers can tell.
 */
export class OutboxDelivery {
  constructor(
    private readonly dataSource: DataSource,
    private readonly mailer: Mailer,
    private readonly context: Omit<MailContext, 'db'>,
    private readonly logger: Logger,
    readonly policy: OutboxPolicy = DEFAULT_OUTBOX_POLICY,
  ) {}

  /** Claims and sends one batch of due mails; returns how many it claimed (0: nothing due). */
  async runBatch(): Promise<number> {
    const claimed = await this.claim();
    const queue = [...claimed];
    const sender = async () => {
      for (let mail = queue.shift(); mail; mail = queue.shift()) await this.settle(mail, await this.deliver(mail));
    };
    await Promise.all(Array.from({ length: Math.min(this.policy.sendConcurrency, claimed.length) }, sender));
    return claimed.length;
  }

  /** Milliseconds until the next pending mail falls due (a retry, a lease running out), or null. */
  async nextDueInMs(): Promise<number | null> {
    const [row] = await this.dataSource.query(
      `SELECT GREATEST(0, EXTRACT(EPOCH FROM MIN(GREATEST(next_attempt_at, COALESCE(locked_until, next_attempt_at))) - now()) * 1000)::bigint AS ms
         FROM email_outbox WHERE status = 'pending'`,
    );
    return row?.ms == null ? null : Number(row.ms);
  }

  private async claim(): Promise<ClaimedMail[]> {
    // The donor's address is read with the claim: a donor erased since the mail was queued has none.
    const [rows] = await this.dataSource.query(
      `UPDATE email_outbox o SET locked_until = now() + $2 * interval '1 millisecond'
         FROM (SELECT id FROM email_outbox
                WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until <= now())
                ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
        WHERE o.id = due.id
       RETURNING o.id, o.kind, o.params, o.attempts, o.donor_id,
                 (SELECT email FROM donors d WHERE d.id = o.donor_id) AS donor_email,
                 (SELECT name FROM donors d WHERE d.id = o.donor_id) AS donor_name`,
      [this.policy.batchSize, this.policy.leaseMs],
    ) as [ClaimedMail[], number];
    return rows;
  }

  private async deliver(mail: ClaimedMail): Promise<Settlement> {
    if (!mail.donor_id || !mail.donor_email?.trim()) return { status: 'skipped', reason: 'the donor was erased or has no email address' };
    const donor: MailRecipient = { id: mail.donor_id, email: mail.donor_email.trim(), name: mail.donor_name };
    if (!Object.hasOwn(MAIL_RENDERERS, mail.kind)) return { status: 'failed', error: `unknown mail kind ${mail.kind}`, delayMs: 0 };
    const render = MAIL_RENDERERS[mail.kind as MailKind];

    let rendered: RenderOutcome;
    try {
      rendered = await render({ outboxId: mail.id, kind: mail.kind as MailKind, donor, params: mail.params }, { ...this.context, db: this.dataSource.manager });
    } catch (err) {
      return this.failedTry(mail, `rendering failed: ${describeError(err)}`);
    }
    if ('skip' in rendered) return { status: 'skipped', reason: rendered.skip };

    try {
      await this.mailer.send({ outboxId: mail.id, to: donor.email, ...rendered });
    } catch (err) {
      // The server refused the address itself (550 no such user): trying again cannot help.
      if (isPermanentRejection(err)) return { status: 'failed', error: describeError(err), delayMs: 0 };
      return this.failedTry(mail, describeError(err));
    }
    return { status: 'sent', subject: rendered.subject };
  }

  /** Try again after a backoff, or park the mail for a person once it has had its tries. */
  private failedTry(mail: ClaimedMail, error: string): Settlement {
    const attempt = mail.attempts + 1;
    if (attempt >= this.policy.maxAttempts) return { status: 'failed', error, delayMs: 0 };
    return { status: 'pending', error, delayMs: Math.min(this.policy.backoffBaseMs * 2 ** (attempt - 1), this.policy.backoffMaxMs) };
  }

  private async settle(mail: ClaimedMail, outcome: Settlement): Promise<void> {
    const log = { outbox: mail.id, kind: mail.kind, attempts: mail.attempts + (outcome.status === 'skipped' ? 0 : 1) };
    try {
      if (outcome.status === 'sent') {
        await this.dataSource.query(
          `UPDATE email_outbox SET status = 'sent', sent_at = now(), subject = $2, attempts = attempts + 1, locked_until = NULL, last_error = NULL
            WHERE id = $1 AND status = 'pending'`,
          [mail.id, outcome.subject],
        );
        this.logger.info(log, 'mail sent');
      } else if (outcome.status === 'skipped') {
        await this.dataSource.query(
          `UPDATE email_outbox SET status = 'skipped', last_error = $2, locked_until = NULL WHERE id = $1 AND status = 'pending'`,
          [mail.id, outcome.reason],
        );
        this.logger.info({ ...log, reason: outcome.reason }, 'mail skipped');
      } else {
        await this.dataSource.query(
          `UPDATE email_outbox SET status = $2, attempts = attempts + 1, last_error = $3, locked_until = NULL,
                  next_attempt_at = now() + $4 * interval '1 millisecond'
            WHERE id = $1 AND status = 'pending'`,
          [mail.id, outcome.status, outcome.error, outcome.delayMs],
        );
        if (outcome.status === 'failed') this.logger.error({ ...log, error: outcome.error }, 'mail could not be sent; parked for a person to look at');
        else this.logger.warn({ ...log, error: outcome.error, retryInMs: outcome.delayMs }, 'mail not sent; will try again');
      }
    } catch (err) {
      // The lease brings the mail back; if it was sent, it goes again with the same Message-ID.
      this.logger.error({ err, ...log }, 'could not record what became of a mail; it returns when its lease ends');
    }
  }
}

function isPermanentRejection(err: unknown): boolean {
  const e = err as { code?: unknown; responseCode?: unknown };
  return e?.code === 'EENVELOPE' && typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600;
}

/**
 * An error in words fit for a log line and the outbox row: SMTP's code and reply, with any email
 * address in it (servers quote the recipient) replaced.
 */
function describeError(err: unknown): string {
  const e = err as { code?: unknown; responseCode?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const prefix = [e?.code, e?.responseCode].filter((part) => typeof part === 'string' || typeof part === 'number').join(' ');
  return `${prefix ? `${prefix}: ` : ''}${message}`.replace(/[^\s<>"'(),;:]+@[^\s<>"'(),;:]+/g, '[address]').slice(0, 500);
}
