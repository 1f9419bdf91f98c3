import type { DataSource } from 'typeorm';
import { FORGET_INTENT_PERSONAL_DATA } from '../../privacy/retention.service';
import { audit } from '../accounts/admin-accounts.service';
import { stillCharging } from './donor-profile';

export type ErasureOutcome =
  | { kind: 'erased' }
  | { kind: 'not_found' }
  | { kind: 'already_erased' }
  /** The confirmation typed was neither the donor's email nor ERASE. */
  | { kind: 'unconfirmed' }
  /** Plans that can still charge the donor: they are canceled first, on this page. */
  | { kind: 'plans_still_charging'; plans: number };

/** What the admin types to confirm: the donor's email (any case) or the word ERASE. */
export const confirmsErasure = (typed: unknown, email: string): boolean =>
  typeof typed === 'string' && (typed.trim() === 'ERASE' || typed.trim().toLowerCase() === email.toLowerCase());

/**
 * Erases a donor's personal data, in one transaction, keeping every ledger row as it is (amounts,
 * dates, campaign, the donor id they point at), so no total changes:
 * - the donor row keeps its id; its email becomes `erased+<id>@invalid` (still unique, never
 *   deliverable), its name goes, and erased_at says when;
 * - their checkout intents (linked to them, behind their gifts, or abandoned under their email)
 *   lose what the retention purge takes from abandoned ones (FORGET_INTENT_PERSONAL_DATA): email,
 *   name, comment, dedication, newsletter consent. The donor wall shows no name for those gifts;
 * - mail still owed to them is closed as skipped; the outbox never held addresses or bodies, and
 *   the mail worker sends nothing to an erased donor (outbox-delivery.ts);
 * - their sign-in links and signed-in sessions are deleted; manage links stop working (sign-in.service.ts).
 * Refused while a plan can still charge them: an erasure cannot be undone, so it does not also
 * end payments at Stripe behind the admin's back; the page offers to cancel each plan first.
 * The audit row says what was done, never what was erased.
 */
export async function eraseDonor(dataSource: DataSource, donorId: string, typed: unknown, adminId: string): Promise<ErasureOutcome> {
  return dataSource.transaction(async (tx) => {
    const [donor]: { id: string; email: string; name: string | null; erased_at: Date | null }[] = await tx.query(
      `SELECT id, email, name, erased_at FROM donors WHERE id = $1 FOR UPDATE`,
      [donorId],
    );
    if (!donor) return { kind: 'not_found' };
    if (donor.erased_at) return { kind: 'already_erased' };
    if (!confirmsErasure(typed, donor.email)) return { kind: 'unconfirmed' };
    const plans: { status: string; cancelAtPeriodEnd: boolean; cancelAt: Date | null }[] = await tx.query(
      `SELECT status, cancel_at_period_end AS "cancelAtPeriodEnd", cancel_at AS "cancelAt" FROM recurring_gifts WHERE donor_id = $1 FOR UPDATE`,
      [donorId],
    );
    const charging = plans.filter(stillCharging).length;
    if (charging > 0) return { kind: 'plans_still_charging', plans: charging };

    // Abandoned intents carry no donor id, only the email: a one-off scan, as an erasure is rare.
    const [, intents] = await tx.query(
      `UPDATE checkout_intents SET ${FORGET_INTENT_PERSONAL_DATA}, updated_at = now()
        WHERE donor_id = $1
           OR id IN (SELECT checkout_intent_id FROM ledger_entries WHERE donor_id = $1 AND checkout_intent_id IS NOT NULL)
           OR (email <> '' AND lower(email) = lower($2))`,
      [donorId, donor.email],
    ) as [unknown, number];
    const [, mails] = await tx.query(
      `UPDATE email_outbox SET status = 'skipped', last_error = 'the donor was erased', locked_until = NULL, claim_token = NULL
        WHERE donor_id = $1 AND status = 'pending'`,
      [donorId],
    ) as [unknown, number];
    const [, signInLinks] = await tx.query(`DELETE FROM donor_sign_in_tokens WHERE donor_id = $1`, [donorId]) as [unknown, number];
    const [, sessions] = await tx.query(`DELETE FROM web_sessions WHERE sess->>'donorId' = $1`, [donorId]) as [unknown, number];
    await tx.query(
      `UPDATE donors SET email = 'erased+' || id || '@invalid', name = NULL, erased_at = now(), updated_at = now() WHERE id = $1`,
      [donorId],
    );
    await audit(tx, {
      adminId, action: 'donor.erase', subjectType: 'donor', subjectId: donorId,
      after: { checkoutIntentsCleared: intents, mailsStopped: mails, signInLinksDeleted: signInLinks, sessionsEnded: sessions },
    });
    return { kind: 'erased' };
  });
}
