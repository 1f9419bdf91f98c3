import type { DataSource } from 'typeorm';
import { HttpError, NotFoundError } from '../../web/errors';
import { audit } from '../accounts/admin-accounts.service';
import { findGift } from './gift-detail';

export type ModerationAction = 'hide' | 'restore' | 'approve';

const ACTION_SQL: Record<ModerationAction, string> = {
  hide: `comment_hidden_at = now()`,
  restore: `comment_hidden_at = NULL`,
  approve: `comment_approved_at = coalesce(comment_approved_at, now())`,
};

export interface QueuedComment {
  giftId: string;
  campaignSlug: string;
  name: string | null;
  comment: string;
  anonymous: boolean;
  at: Date;
  hidden: boolean;
  approved: boolean;
  held: boolean;
}

/**
 * What a donor put on the public wall (their name and comment, on their checkout intent), hidden,
 * restored or approved by an admin. The wall (campaign.service.ts) leaves out a hidden name and
 * comment, and an unapproved comment while the campaign holds comments; its cache keeps it at most
 * about two seconds (campaign-reads.ts).
 */
export async function moderateComment(dataSource: DataSource, giftId: string, adminId: string, action: ModerationAction): Promise<void> {
  await dataSource.transaction(async (tx) => {
    const gift = await findGift(tx, giftId, { lock: true });
    if (!gift) throw new NotFoundError('We could not find that gift.');
    if (!gift.wall) throw new HttpError(409, 'This gift put nothing on the donor wall (it did not come through the donate form).');
    const before = { hiddenAt: gift.wall.hiddenAt, approvedAt: gift.wall.approvedAt };
    const [after] = await tx.query(
      `UPDATE checkout_intents SET ${ACTION_SQL[action]}, updated_at = now() WHERE id = $1
       RETURNING comment_hidden_at AS "hiddenAt", comment_approved_at AS "approvedAt"`,
      [gift.wall.intentId],
    ).then((r: [unknown[], number]) => r[0]);
    await audit(tx, { adminId, action: `gift.comment_${action}`, subjectType: 'gift', subjectId: gift.id, before, after });
  });
}

/**
 * The moderation queue: comments waiting for approval (campaigns holding comments), then the most
 * recent comments of any campaign. Both walk checkout_intents_comments_idx newest first.
 */
export async function moderationQueue(dataSource: DataSource, limit = 50): Promise<{ awaiting: QueuedComment[]; recent: QueuedComment[] }> {
  const select = (where: string) => `
    SELECT g.id AS gift_id, c.slug, ci.donor_name, ci.comment, ci.anonymous, ci.completed_at,
           ci.comment_hidden_at IS NOT NULL AS hidden, ci.comment_approved_at IS NOT NULL AS approved, c.hold_comments
      FROM checkout_intents ci
      JOIN campaigns c ON c.id = ci.campaign_id
      JOIN LATERAL (SELECT l.id FROM ledger_entries l WHERE l.checkout_intent_id = ci.id AND l.kind = 'gift' AND NOT l.renewal
                     ORDER BY l.occurred_at LIMIT 1) g ON true
     WHERE ci.comment IS NOT NULL AND ci.status = 'completed' ${where}
     ORDER BY ci.completed_at DESC LIMIT $1`;
  const toComment = (r: Record<string, unknown>): QueuedComment => ({
    giftId: r.gift_id as string, campaignSlug: r.slug as string, name: r.donor_name as string | null, comment: r.comment as string,
    anonymous: r.anonymous as boolean, at: new Date(r.completed_at as Date), hidden: r.hidden as boolean, approved: r.approved as boolean,
    held: (r.hold_comments as boolean) && !(r.approved as boolean),
  });
  const [awaiting, recent] = await Promise.all([
    dataSource.query(select(`AND c.hold_comments AND ci.comment_approved_at IS NULL AND ci.comment_hidden_at IS NULL`), [limit]),
    dataSource.query(select(''), [limit]),
  ]);
  return { awaiting: awaiting.map(toComment), recent: recent.map(toComment) };
}
