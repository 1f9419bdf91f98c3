import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Logger } from '../logger';
import type { MailContext, MailRecipient, RenderOutcome } from './mails/mail';
import { MAIL_RENDERERS } from './mails';
import { isSinglePlainAddress, type Mailer } from './mailer';
import type { MailKind } from './outbox';

export interface OutboxPolicy {
  /** Mails claimed at once. */
  batchSize: number;
  /** Mails of a batch sent at the same time. */
  sendConcurrency: number;
  /**
   * How long a claimed mail stays hidden from other workers; a crashed worker's mail returns after
   * it. Renewed just before each send, so a batch may take longer than one lease.
   */
  leaseMs: number;
  /**
   * The longest one send may take, from renewing its lease to the server's "250 OK" (a slow relay
   * scanning a statement's PDF, a server dripping its reply). Shorter than the lease, so no other
   * worker can claim a mail while it is being sent; a send past it counts as a failed try.
   */
  sendDeadlineMs: number;
  /** Tries before a mail that keeps failing is parked as 'failed' for a person. */
  maxAttempts: number;
  /** Wait after the first failed try, doubled after each further one, up to backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/**
 * 30 s, 1 min, 2 min … then hourly: 56 tries span about two days, so a mail server down over a
 * weekend night loses nothing. A send's deadline outlasts the SMTP timeouts (mailer.ts), and the
 * lease outlasts the deadline with room to record the outcome.
 */
export const DEFAULT_OUTBOX_POLICY: OutboxPolicy = {
  batchSize: 20,
  sendConcurrency: 3,
  leaseMs: 120_000,
  sendDeadlineMs: 90_000,
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

/** One claim of due mails: the token says this worker still holds them (email_outbox.claim_token). */
interface Claim {
  token: string;
  mails: ClaimedMail[];
}

type Settlement =
  | { status: 'sent'; subject: string }
  | { status: 'skipped'; reason: string }
  | { status: 'pending' | 'failed'; error: string; delayMs: number }
  // The lease ran out before the send and another worker claimed the mail since: it is theirs now.
  | { status: 'taken' };

/**
 * Sends the mails queued in email_outbox (outbox.ts): claims due rows (SKIP LOCKED, with a lease
 * and a claim token), renders each from current data (mails/), sends it, and records what happened.
 *
 * Exactly once in the normal case: just before each send the worker renews the mail's lease, which
 * only works while its claim token still holds (no other worker claimed the mail since), and the
 * send must finish within a deadline shorter than that lease; the row is marked sent once the SMTP
 * server accepted it. So several instances never send one mail at the same time, however slow the
 * server. A crash (or the database going away) between the server's acceptance and that mark, or a
 * send abandoned at its deadline that the server still accepts, sends it again on a later try; the
 * Message-ID is the same on every try (mailer.ts), so receivers can tell.
 */
export class OutboxDelivery {
  constructor(
    private readonly dataSource: DataSource,
    private readonly mailer: Mailer,
    private readonly context: Omit<MailContext, 'db'>,
    private readonly logger: Logger,
    readonly policy: OutboxPolicy = DEFAULT_OUTBOX_POLICY,
  ) {
    if (!(policy.sendDeadlineMs < policy.leaseMs)) throw new Error('mail outbox: a send\'s deadline must be shorter than the lease');
  }

  /** Claims and sends one batch of due mails; returns how many it claimed (0: nothing due). */
  async runBatch(): Promise<number> {
    const { token, mails } = await this.claim();
    const queue = [...mails];
    const sender = async () => {
      for (let mail = queue.shift(); mail; mail = queue.shift()) await this.settle(mail, token, await this.deliver(mail, token));
    };
    await Promise.all(Array.from({ length: Math.min(this.policy.sendConcurrency, mails.length) }, sender));
    return mails.length;
  }

  /** Milliseconds until the next pending mail falls due (a retry, a lease running out), or null. */
  async nextDueInMs(): Promise<number | null> {
    const [row] = await this.dataSource.query(
      `SELECT GREATEST(0, EXTRACT(EPOCH FROM MIN(GREATEST(next_attempt_at, COALESCE(locked_until, next_attempt_at))) - now()) * 1000)::bigint AS ms
         FROM email_outbox WHERE status = 'pending'`,
    );
    return row?.ms == null ? null : Number(row.ms);
  }

  private async claim(): Promise<Claim> {
    const token = randomUUID();
    // The donor's address is read with the claim: a donor erased since the mail was queued has none.
    const [rows] = await this.dataSource.query(
      `UPDATE email_outbox o SET locked_until = now() + $2 * interval '1 millisecond', claim_token = $3
         FROM (SELECT e.id, CASE WHEN d.erased_at IS NULL THEN d.email END AS email, d.name FROM email_outbox e LEFT JOIN donors d ON d.id = e.donor_id
                WHERE e.status = 'pending' AND e.next_attempt_at <= now() AND (e.locked_until IS NULL OR e.locked_until <= now())
                ORDER BY e.next_attempt_at LIMIT $1 FOR UPDATE OF e SKIP LOCKED) due
        WHERE o.id = due.id
       RETURNING o.id, o.kind, o.params, o.attempts, o.donor_id, due.email AS donor_email, due.name AS donor_name`,
      [this.policy.batchSize, this.policy.leaseMs, token],
    ) as [ClaimedMail[], number];
    return { token, mails: rows };
  }

  /**
   * A whole lease from now for a mail about to be sent, if this claim still holds it: false when
   * its lease ran out while earlier mails of the batch were sent and another worker claimed it.
   */
  private async renewLease(mail: ClaimedMail, token: string): Promise<boolean> {
    const [, renewed] = await this.dataSource.query(
      `UPDATE email_outbox SET locked_until = now() + $3 * interval '1 millisecond'
        WHERE id = $1 AND claim_token = $2 AND status = 'pending'`,
      [mail.id, token, this.policy.leaseMs],
    ) as [unknown, number];
    return renewed === 1;
  }

  private async deliver(mail: ClaimedMail, token: string): Promise<Settlement> {
    if (!mail.donor_id || !mail.donor_email?.trim()) return { status: 'skipped', reason: 'the donor was erased or has no email address' };
    const donor: MailRecipient = { id: mail.donor_id, email: mail.donor_email.trim(), name: mail.donor_name };
    if (!isSinglePlainAddress(donor.email)) return { status: 'failed', error: 'the donor\'s email address is not one plain address', delayMs: 0 };
    if (!Object.hasOwn(MAIL_RENDERERS, mail.kind)) return { status: 'failed', error: `unknown mail kind ${mail.kind}`, delayMs: 0 };
    const render = MAIL_RENDERERS[mail.kind as MailKind];

    let rendered: RenderOutcome;
    try {
      rendered = await render({ outboxId: mail.id, kind: mail.kind as MailKind, donor, params: mail.params }, { ...this.context, db: this.dataSource.manager });
    } catch (err) {
      return this.failedTry(mail, `rendering failed: ${describeError(err)}`);
    }
    if ('skip' in rendered) return { status: 'skipped', reason: rendered.skip };

    if (!(await this.renewLease(mail, token))) return { status: 'taken' };
    try {
      await withinDeadline(this.mailer.send({ outboxId: mail.id, to: donor.email, ...rendered }), this.policy.sendDeadlineMs);
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

  /**
   * Records what became of a mail. A skip, a retry or a parking is recorded only while this claim
   * still holds the mail: otherwise it would end another worker's lease, or undo its outcome. That
   * the server accepted the mail is recorded whatever the claim: it is a fact, and it keeps any
   * other worker from sending the mail again.
   */
  private async settle(mail: ClaimedMail, token: string, outcome: Settlement): Promise<void> {
    const log = { outbox: mail.id, kind: mail.kind, attempts: mail.attempts + (outcome.status === 'skipped' || outcome.status === 'taken' ? 0 : 1) };
    if (outcome.status === 'taken') {
      this.logger.info(log, 'mail not sent by this worker: its lease ran out and another worker claimed it');
      return;
    }
    try {
      let recorded: number;
      if (outcome.status === 'sent') {
        [, recorded] = await this.dataSource.query(
          `UPDATE email_outbox SET status = 'sent', sent_at = now(), subject = $2, attempts = attempts + 1, locked_until = NULL, claim_token = NULL, last_error = NULL
            WHERE id = $1 AND status = 'pending'`,
          [mail.id, outcome.subject],
        );
        this.logger.info(log, 'mail sent');
      } else if (outcome.status === 'skipped') {
        [, recorded] = await this.dataSource.query(
          `UPDATE email_outbox SET status = 'skipped', last_error = $3, locked_until = NULL, claim_token = NULL
            WHERE id = $1 AND claim_token = $2 AND status = 'pending'`,
          [mail.id, token, outcome.reason],
        );
        this.logger.info({ ...log, reason: outcome.reason }, 'mail skipped');
      } else {
        [, recorded] = await this.dataSource.query(
          `UPDATE email_outbox SET status = $3, attempts = attempts + 1, last_error = $4, locked_until = NULL, claim_token = NULL,
                  next_attempt_at = now() + $5 * interval '1 millisecond'
            WHERE id = $1 AND claim_token = $2 AND status = 'pending'`,
          [mail.id, token, outcome.status, outcome.error, outcome.delayMs],
        );
        if (outcome.status === 'failed') this.logger.error({ ...log, error: outcome.error }, 'mail could not be sent; parked for a person to look at');
        else this.logger.warn({ ...log, error: outcome.error, retryInMs: outcome.delayMs }, 'mail not sent; will try again');
      }
      if (recorded === 0) this.logger.warn(log, 'what became of a mail was not recorded: another worker holds it or settled it');
    } catch (err) {
      // The lease brings the mail back; if it was sent, it goes again with the same Message-ID.
      this.logger.error({ err, ...log }, 'could not record what became of a mail; it returns when its lease ends');
    }
  }
}

/**
 * A send, or a failure once `ms` have passed. nodemailer bounds only the silences of a connection
 * (socketTimeout), so a server replying a byte at a time could hold a send for ever. The send is
 * abandoned, not aborted (nodemailer cannot abort one): the server may still accept it.
 */
async function withinDeadline(send: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the mail server did not accept the mail within ${ms} ms; it may still arrive`)), ms);
  });
  send.catch(() => undefined); // an abandoned send that fails later has nobody left to tell
  try {
    await Promise.race([send, deadline]);
  } finally {
    clearTimeout(timer);
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
