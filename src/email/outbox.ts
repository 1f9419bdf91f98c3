import type { EntityManager } from 'typeorm';

/**
 * Every mail Kettle sends, by what it is about. The params name rows (a ledger entry, a recurring
 * gift, a sign-in token), never personal data: the mail is rendered from current data when sent.
 */
export type MailKind =
  | 'receipt' // { entryId } a counted gift (one-off, first payment of a plan, renewal, offline)
  | 'refund_notice' // { entryId } a refund entry: what was returned and the gift's new net
  | 'void_notice' // { entryId } a void entry: an offline gift we receipted no longer counts
  | 'cancel_confirmation' // { recurringGiftId } a plan set to end, or ended, at the donor's request
  | 'payment_failed' // { recurringGiftId, invoiceId } once per failed invoice
  | 'payment_gave_up' // { recurringGiftId } Stripe stopped retrying: the plan ended unpaid
  | 'card_expiring' // { recurringGiftId, paymentMethodId } once per card
  | 'sign_in_link' // { tokenId } a single-use link asked for on the sign-in page
  | 'manage_link' // {} a fresh manage link, sent by an admin from the console
  | 'statement'; // { year } a donor's yearly statement

export interface QueuedMail {
  /** The fact this mail is about, such as `receipt:<ledger entry id>`: a second mail for it is never queued. */
  dedupeKey: string;
  kind: MailKind;
  donorId: string;
  params?: Record<string, string | number | null>;
}

/** The channel the mail worker LISTENs on; queueMails notifies it, delivered when the transaction commits. */
export const OUTBOX_CHANNEL = 'kettle_email_outbox';

/**
 * Queues mails inside the caller's transaction (the one that counted the gift, recorded the
 * failure…): they exist if and only if that commits, and a key already queued is left alone.
 * One statement whatever the number. Returns how many were new.
 */
export async function queueMails(tx: EntityManager, mails: QueuedMail[]): Promise<number> {
  if (mails.length === 0) return 0;
  const rows: unknown[] = await tx.query(
    `INSERT INTO email_outbox (dedupe_key, kind, donor_id, params)
     SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::jsonb[]) ORDER BY 1
     ON CONFLICT (dedupe_key) DO NOTHING
     RETURNING 1`,
    [mails.map((m) => m.dedupeKey), mails.map((m) => m.kind), mails.map((m) => m.donorId), mails.map((m) => JSON.stringify(m.params ?? {}))],
  );
  if (rows.length > 0) await tx.query(`SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
  return rows.length;
}

/**
 * The mails the webhook path owes, each keyed on the fact it is about, so a replayed or reordered
 * event can never owe one twice.
 */
export const receiptMail = (entryId: string, donorId: string): QueuedMail =>
  ({ dedupeKey: `receipt:${entryId}`, kind: 'receipt', donorId, params: { entryId } });

export const refundNoticeMail = (entryId: string, donorId: string): QueuedMail =>
  ({ dedupeKey: `refund:${entryId}`, kind: 'refund_notice', donorId, params: { entryId } });

/** Keyed on the void entry: a gift has at most one. */
export const voidNoticeMail = (entryId: string, donorId: string): QueuedMail =>
  ({ dedupeKey: `void:${entryId}`, kind: 'void_notice', donorId, params: { entryId } });

/** Once per failed invoice, however many times Stripe retries it. */
export const paymentFailedMail = (p: {
  recurringGiftId: string; donorId: string; invoiceId: string; amount: number; currency: string; nextAttemptAt: number | null;
}): QueuedMail => ({
  dedupeKey: `payment_failed:${p.invoiceId}`,
  kind: 'payment_failed',
  donorId: p.donorId,
  params: { recurringGiftId: p.recurringGiftId, invoiceId: p.invoiceId, amount: p.amount, currency: p.currency, nextAttemptAt: p.nextAttemptAt },
});

export const paymentGaveUpMail = (p: { recurringGiftId: string; donorId: string; subscriptionId: string }): QueuedMail =>
  ({ dedupeKey: `payment_gave_up:${p.subscriptionId}`, kind: 'payment_gave_up', donorId: p.donorId, params: { recurringGiftId: p.recurringGiftId } });

/** Keyed on when the cancellation was asked for: cancel, undo, cancel again owes two. */
export const cancelConfirmationMail = (p: { recurringGiftId: string; donorId: string; subscriptionId: string; requestedAt: number }): QueuedMail =>
  ({ dedupeKey: `cancel:${p.subscriptionId}:${p.requestedAt}`, kind: 'cancel_confirmation', donorId: p.donorId, params: { recurringGiftId: p.recurringGiftId } });
