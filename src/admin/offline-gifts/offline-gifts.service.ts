import type { DataSource, EntityManager } from 'typeorm';
import type { Campaign } from '../../campaigns/campaign.entity';
import { upsertDonor } from '../../donors/donor.service';
import { queueMails, receiptMail, voidNoticeMail } from '../../email/outbox';
import { recordLedgerEntry } from '../../ledger/ledger.service';
import { audit } from '../accounts/admin-accounts.service';
import type { OfflineGiftInput } from './offline-gift-form';

/** Thrown inside the transaction when the form was already recorded, so its donor upsert is undone too. */
class AlreadyRecorded extends Error {}

/**
 * When an offline gift happened: received today, the moment it is recorded (it sorts among today's
 * card gifts as it came); an earlier day, noon UTC of that day, so it falls on that day wherever
 * the page is read (UTC-12 to UTC+11) and in that UTC year's statement.
 */
function offlineOccurredAt(receivedOn: string, now: Date): Date {
  return receivedOn === now.toISOString().slice(0, 10) ? now : new Date(`${receivedOn}T12:00:00Z`);
}

/**
 * Records an offline gift as the webhook records a card gift: through the ledger, with its donor
 * (found or created by email), its receipt queued and an audit row, all in one transaction. The
 * form's key is the gift's identity: a second submit of the same form records nothing and answers
 * the gift the first one recorded (`replay`). The same form sent again with other values (the Back
 * button, another cheque typed over the first) is not that gift: `form_reused`, so the admin is told.
 */
export async function recordOfflineGift(
  dataSource: DataSource,
  campaign: Campaign,
  input: OfflineGiftInput,
  adminId: string,
  now = new Date(),
): Promise<OfflineGiftOutcome> {
  const offlineKey = `form:${input.formKey}`;
  try {
    const entryId = await dataSource.transaction(async (tx) => {
      // Without an email, an anonymous gift: counted in the amount raised and the gift count, not as a donor, no receipt.
      const donorId = input.donorEmail ? await upsertDonor(tx, { email: input.donorEmail, name: input.donorName }) : null;
      const recorded = await recordLedgerEntry(tx, {
        kind: 'gift', campaignId: campaign.id, donorId, amount: input.amount, currency: campaign.currency, source: 'offline',
        frequency: 'once', offlineKey, occurredAt: offlineOccurredAt(input.receivedOn, now),
      });
      if (!recorded.created) throw new AlreadyRecorded();
      const id = recorded.entryId!;
      await tx.query(
        `INSERT INTO offline_gifts (entry_id, method, reference, note, received_on, recorded_by) VALUES ($1, $2, $3, $4, $5, $6)`,
        [id, input.method, input.reference, input.note, input.receivedOn, adminId],
      );
      if (donorId) await queueMails(tx, [receiptMail(id, donorId)]);
      // Whether a reference or note was given, never their text: both may name the donor, and a
      // donor's erasure clears them from offline_gifts but leaves the audit log as it is.
      await audit(tx, {
        adminId, action: 'offline_gift.record', subjectType: 'gift', subjectId: id, before: null,
        after: { campaignId: campaign.id, donorId, amount: input.amount, currency: campaign.currency, method: input.method,
          receivedOn: input.receivedOn, hasReference: Boolean(input.reference), hasNote: Boolean(input.note) },
      });
      return id;
    });
    return { kind: 'recorded', entryId };
  } catch (err) {
    if (!(err instanceof AlreadyRecorded)) throw err;
    const [existing]: { id: string; amount: string; method: string; reference: string | null; received_on: string; email: string | null }[] = await dataSource.query(
      `SELECT g.id, g.amount, o.method, o.reference, to_char(o.received_on, 'YYYY-MM-DD') AS received_on, d.email
         FROM ledger_entries g
         JOIN offline_gifts o ON o.entry_id = g.id
         LEFT JOIN donors d ON d.id = g.donor_id
        WHERE g.offline_key = $1 AND g.kind = 'gift'`,
      [offlineKey],
    );
    const sameGift = Number(existing.amount) === input.amount && existing.method === input.method && existing.received_on === input.receivedOn
      && (existing.reference ?? null) === (input.reference ?? null) && (existing.email ?? '').toLowerCase() === (input.donorEmail ?? '').toLowerCase();
    return { kind: sameGift ? 'replay' : 'form_reused', entryId: existing.id };
  }
}

export type OfflineGiftOutcome =
  /** Recorded now, or this very form was recorded before (sent twice): either way, the gift is entryId. */
  | { kind: 'recorded' | 'replay'; entryId: string }
  /** The form already recorded gift entryId, and came back with other values: nothing recorded now. */
  | { kind: 'form_reused'; entryId: string };

export interface GiftToVoid {
  id: string;
  source: 'stripe' | 'offline';
  amount: number;
  currency: string;
  net: number;
  occurredAt: Date;
  campaignTitle: string;
  campaignSlug: string;
  donorEmail: string | null;
  method: string | null;
  reference: string | null;
  receivedOn: string | null;
  voidedAt: Date | null;
  voidReason: string | null;
}

/** What the void page shows of a gift; null when there is no such gift. */
export async function findGiftToVoid(manager: EntityManager, giftId: string): Promise<GiftToVoid | null> {
  const [row] = await manager.query(
    `SELECT g.id, g.source, g.amount, g.currency, g.occurred_at, c.title, c.slug, d.email, o.method, o.reference,
            to_char(o.received_on, 'YYYY-MM-DD') AS received_on, o.void_reason,
            (SELECT COALESCE(SUM(a.amount), 0) FROM ledger_entries a WHERE a.gift_entry_id = g.id) AS adjusted,
            (SELECT v.created_at FROM ledger_entries v WHERE v.gift_entry_id = g.id AND v.kind = 'void') AS voided_at
       FROM ledger_entries g
       JOIN campaigns c ON c.id = g.campaign_id
       LEFT JOIN donors d ON d.id = g.donor_id
       LEFT JOIN offline_gifts o ON o.entry_id = g.id
      WHERE g.id = $1 AND g.kind = 'gift'`,
    [giftId],
  );
  if (!row) return null;
  return {
    id: row.id, source: row.source, amount: Number(row.amount), currency: row.currency.trim(), net: Number(row.amount) + Number(row.adjusted),
    occurredAt: row.occurred_at, campaignTitle: row.title, campaignSlug: row.slug, donorEmail: row.email, method: row.method,
    reference: row.reference, receivedOn: row.received_on, voidedAt: row.voided_at, voidReason: row.void_reason,
  };
}

export type VoidOutcome = { kind: 'voided'; voidEntryId: string } | { kind: 'already_voided'; gift: GiftToVoid } | { kind: 'not_offline'; gift: GiftToVoid } | { kind: 'not_found' };

/**
 * Voids an offline gift: a reversing ledger entry for all it still counts for (never a deletion),
 * the reason beside it, a notice to the donor if their receipt went out, and an audit row, in one
 * transaction. A second void is a no-op that says so. Card gifts are refunded through Stripe instead.
 */
export async function voidOfflineGift(dataSource: DataSource, giftId: string, reason: string, adminId: string): Promise<VoidOutcome> {
  return dataSource.transaction(async (tx) => {
    const gift = await findGiftToVoid(tx, giftId);
    if (!gift) return { kind: 'not_found' };
    if (gift.source !== 'offline') return { kind: 'not_offline', gift };
    if (gift.voidedAt) return { kind: 'already_voided', gift };
    // The ledger locks the gift, re-reads its net and refuses any other amount; a void that won a race makes this a replay.
    const recorded = await recordLedgerEntry(tx, { kind: 'void', giftEntryId: gift.id, amount: gift.net, currency: gift.currency, occurredAt: new Date() });
    if (!recorded.created) return { kind: 'already_voided', gift: (await findGiftToVoid(tx, giftId))! };
    const voidEntryId = recorded.entryId!;
    await tx.query(`UPDATE offline_gifts SET void_reason = $2, voided_by = $3 WHERE entry_id = $1`, [gift.id, reason, adminId]);
    // Only a donor who holds a receipt needs telling; an unsent receipt is skipped by its renderer (the gift is voided).
    const [receipt]: { donor_id: string }[] = await tx.query(
      `SELECT donor_id FROM email_outbox WHERE dedupe_key = $1 AND status = 'sent'`, [`receipt:${gift.id}`]);
    if (receipt) await queueMails(tx, [voidNoticeMail(voidEntryId, receipt.donor_id)]);
    // The reason stays beside the gift (offline_gifts.void_reason), not in the audit log: free text
    // that may name the donor, cleared from the gift if they are erased.
    await audit(tx, {
      adminId, action: 'gift.void', subjectType: 'gift', subjectId: gift.id,
      before: { net: gift.net, currency: gift.currency, voided: false },
      after: { net: 0, currency: gift.currency, voided: true, voidEntryId },
    });
    return { kind: 'voided', voidEntryId };
  });
}
