import type { DataSource } from 'typeorm';
import type { PlanActionOutcome, PlanActionsService } from '../../donations/plan-actions.service';
import { queueMails } from '../../email/outbox';
import { audit } from '../accounts/admin-accounts.service';
import type { DonorRow } from './donor-profile';

/** One manage-link mail per donor per slot of this length (clock-aligned): pressing "resend" again in it queues nothing. */
export const MANAGE_LINK_SLOT_MS = 10 * 60 * 1000;

export type ManageLinkOutcome = 'queued' | 'already_queued' | 'erased';

/**
 * Queues a mail with a fresh manage link (made when it is sent). The mail's key names the donor
 * and the current 10-minute slot, so however many admins press the button in that slot, at once
 * or one after another, one mail is owed.
 */
export async function resendManageLink(dataSource: DataSource, donor: DonorRow, adminId: string, now = new Date()): Promise<ManageLinkOutcome> {
  if (donor.erasedAt) return 'erased';
  const slot = Math.floor(now.getTime() / MANAGE_LINK_SLOT_MS);
  return dataSource.transaction(async (tx) => {
    const queued = await queueMails(tx, [{ dedupeKey: `manage_link:${donor.id}:${slot}`, kind: 'manage_link', donorId: donor.id }]);
    if (queued === 0) return 'already_queued';
    await audit(tx, { adminId, action: 'donor.manage_link_resend', subjectType: 'donor', subjectId: donor.id });
    return 'queued';
  });
}

export type PlanCancelOutcome = PlanActionOutcome | { kind: 'not_found' };

/**
 * Cancels a donor's plan for them, through the same service as the donor's own button (so the
 * donor gets the same confirmation mail): at the end of the paid period, or now. The audit row
 * is written once Stripe's answer is stored.
 */
export async function cancelPlanForDonor(
  dataSource: DataSource, planActions: PlanActionsService,
  input: { donor: DonorRow; planId: string; when: 'period_end' | 'now'; formNonce: string | null; adminId: string },
): Promise<PlanCancelOutcome> {
  const plan = await planActions.donorPlan(input.donor.id, input.planId);
  if (!plan) return { kind: 'not_found' };
  const before = { status: plan.status, cancelAtPeriodEnd: plan.cancelAtPeriodEnd };
  const outcome = await planActions.change(plan, { action: 'cancel', when: input.when, reason: null }, input.formNonce);
  if (outcome.kind === 'changed' || outcome.kind === 'stale') {
    await audit(dataSource.manager, {
      adminId: input.adminId, action: `recurring_gift.cancel_${input.when}`, subjectType: 'recurring_gift', subjectId: plan.id,
      before, after: { status: outcome.plan.status, cancelAtPeriodEnd: outcome.plan.cancelAtPeriodEnd },
    });
  }
  return outcome;
}
