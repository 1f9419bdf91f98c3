import type { EntityManager } from 'typeorm';

export interface DonorIdentity {
  email?: string | null;
  name?: string | null;
  stripeCustomerId?: string | null;
}

/**
 * Finds or creates the donor for a Stripe customer and/or email (case-insensitive), and links
 * the customer to them. Returns null when neither is known. Safe under concurrent webhooks:
 * both writes are upserts on unique keys.
 */
export async function upsertDonor(tx: EntityManager, who: DonorIdentity): Promise<string | null> {
  const email = who.email?.trim() || null;
  const name = who.name?.trim() || null;

  if (who.stripeCustomerId) {
    const [linked] = await tx.query(`SELECT donor_id FROM donor_stripe_customers WHERE stripe_customer_id = $1`, [who.stripeCustomerId]);
    if (linked) {
      if (name) await tx.query(`UPDATE donors SET name = COALESCE(name, $2) WHERE id = $1`, [linked.donor_id, name]);
      return linked.donor_id;
    }
  }
  if (!email) return null;

  const [donor] = await tx.query(
    `INSERT INTO donors (email, name) VALUES ($1, $2)
     ON CONFLICT ((lower(email))) DO UPDATE SET name = COALESCE(donors.name, EXCLUDED.name), updated_at = now()
     RETURNING id`,
    [email, name],
  );
  if (who.stripeCustomerId) {
    await tx.query(
      `INSERT INTO donor_stripe_customers (stripe_customer_id, donor_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      [who.stripeCustomerId, donor.id],
    );
  }
  return donor.id;
}
