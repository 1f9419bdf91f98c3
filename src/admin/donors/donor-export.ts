import type { DataSource } from 'typeorm';
import { audit } from '../accounts/admin-accounts.service';
import type { DonorRow } from './donor-profile';

/**
 * Everything Kettle holds about a donor (a subject access request), as one JSON document:
 * the donor row, every ledger row of theirs (gifts and what adjusted them, in minor units),
 * plans, checkout intents with what they typed, newsletter consent, mails (without bodies: Kettle
 * keeps none) and Stripe customer ids. Reading it is audited.
 */
export async function exportDonor(dataSource: DataSource, donor: DonorRow, adminId: string) {
  const [ledger, plans, intents, mails, customers] = await Promise.all([
    dataSource.query(
      `SELECT e.id, e.kind, e.gift_entry_id AS "giftEntryId", e.campaign_id AS "campaignId", c.title AS "campaignTitle",
              e.amount::bigint::text AS "amountMinor", e.currency, e.fee_cover_amount::bigint::text AS "feeCoverMinor",
              e.source, e.frequency, e.renewal, e.occurred_at AS "occurredAt", e.stripe_payment_intent_id AS "stripePaymentIntentId",
              e.stripe_invoice_id AS "stripeInvoiceId", e.stripe_refund_id AS "stripeRefundId", e.stripe_dispute_id AS "stripeDisputeId"
         FROM ledger_entries e JOIN campaigns c ON c.id = e.campaign_id
        WHERE e.donor_id = $1 OR e.gift_entry_id IN (SELECT id FROM ledger_entries WHERE donor_id = $1)
        ORDER BY e.occurred_at, e.id`,
      [donor.id],
    ),
    dataSource.query(
      `SELECT id, stripe_subscription_id AS "stripeSubscriptionId", campaign_id AS "campaignId", status, amount::bigint::text AS "amountMinor",
              currency, interval, cancel_at_period_end AS "cancelAtPeriodEnd", paused, current_period_end AS "currentPeriodEnd",
              card_brand AS "cardBrand", card_last4 AS "cardLast4", card_exp_month AS "cardExpMonth", card_exp_year AS "cardExpYear",
              failed_payment_count AS "failedPaymentCount", last_payment_failed_at AS "lastPaymentFailedAt",
              last_decline_code AS "lastDeclineCode", last_decline_message AS "lastDeclineMessage",
              cancel_at AS "cancelAt", canceled_at AS "canceledAt", created_at AS "createdAt"
         FROM recurring_gifts WHERE donor_id = $1 ORDER BY created_at`,
      [donor.id],
    ),
    // Abandoned checkouts carry only the email: found by it (a one-off scan, as exports are rare).
    dataSource.query(
      `SELECT id, campaign_id AS "campaignId", status, frequency, donation_amount::bigint::text AS "donationMinor",
              fee_cover_amount::bigint::text AS "feeCoverMinor", currency, email, donor_name AS "name", comment, dedication,
              anonymous, newsletter, created_at AS "createdAt", completed_at AS "completedAt", personal_data_purged_at AS "personalDataPurgedAt"
         FROM checkout_intents WHERE donor_id = $1 OR (email <> '' AND lower(email) = lower($2))
        ORDER BY created_at`,
      [donor.id, donor.email],
    ),
    dataSource.query(
      `SELECT kind, subject, status, attempts, created_at AS "queuedAt", sent_at AS "sentAt"
         FROM email_outbox WHERE donor_id = $1 ORDER BY created_at`,
      [donor.id],
    ),
    dataSource.query(`SELECT stripe_customer_id AS id, created_at AS "linkedAt" FROM donor_stripe_customers WHERE donor_id = $1 ORDER BY created_at`, [donor.id]),
  ]);
  await audit(dataSource.manager, { adminId, action: 'donor.export', subjectType: 'donor', subjectId: donor.id });
  // Consent stands until withdrawn: a later gift without the box ticked withdraws nothing.
  const optIns = (intents as { status: string; newsletter: boolean; completedAt: Date | null }[]).filter((i) => i.status === 'completed' && i.newsletter);
  return {
    exportedAt: new Date(),
    donor: { id: donor.id, email: donor.email, name: donor.name, createdAt: donor.createdAt, erasedAt: donor.erasedAt },
    ledgerEntries: ledger,
    recurringGifts: plans,
    checkoutIntents: intents,
    consent: {
      newsletterDigest: optIns.length > 0,
      optedInAt: optIns.map((i) => i.completedAt),
    },
    emailsSent: mails,
    stripeCustomers: customers,
  };
}
