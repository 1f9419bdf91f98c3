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
  const [donorId] = await upsertDonors(tx, [who]);
  return donorId;
}

/**
 * upsertDonor for many identities at once, in a few statements whatever their number, with the
 * same outcome as one by one in the given order: a linked customer decides the donor; otherwise
 * the email does (the first name given wins), and the customer is linked to that donor. Donor
 * rows are taken in lower(email) order and links in customer id order, so concurrent batches
 * cannot deadlock on them. Returns the donor ids in the order of `identities`.
 */
export async function upsertDonors(tx: EntityManager, identities: DonorIdentity[]): Promise<(string | null)[]> {
  const people = identities.map((who) => ({ email: who.email?.trim() || null, name: who.name?.trim() || null, customer: who.stripeCustomerId || null }));
  const customers = [...new Set(people.flatMap((p) => (p.customer ? [p.customer] : [])))];
  const linkedRows: { stripe_customer_id: string; donor_id: string }[] = customers.length
    ? await tx.query(`SELECT stripe_customer_id, donor_id FROM donor_stripe_customers WHERE stripe_customer_id = ANY($1)`, [customers])
    : [];
  const linked = new Map(linkedRows.map((r) => [r.stripe_customer_id, r.donor_id]));

  // Who each identity is, decided in order as one by one would: a linked customer's donor; else
  // the donor of the email that first came with this customer in this call; else of its own email.
  const donorIds: (string | null)[] = people.map(() => null);
  const namesOfLinked = new Map<string, string>();
  const emailOfNewCustomer = new Map<string, string>();
  const byEmail: { at: number; email: string; name: string | null }[] = [];
  for (const [at, p] of people.entries()) {
    const donorId = p.customer ? linked.get(p.customer) : undefined;
    if (donorId) {
      donorIds[at] = donorId;
      if (p.name && !namesOfLinked.has(donorId)) namesOfLinked.set(donorId, p.name);
      continue;
    }
    const email = (p.customer ? emailOfNewCustomer.get(p.customer) : undefined) ?? p.email;
    if (!email) continue;
    if (p.customer && !emailOfNewCustomer.has(p.customer)) emailOfNewCustomer.set(p.customer, email);
    byEmail.push({ at, email, name: p.name });
  }

  if (namesOfLinked.size) {
    await tx.query(
      `UPDATE donors d SET name = u.name FROM unnest($1::uuid[], $2::text[]) AS u(id, name) WHERE d.id = u.id AND d.name IS NULL AND d.erased_at IS NULL`,
      [[...namesOfLinked.keys()], [...namesOfLinked.values()]],
    );
  }
  const donorOfEmail = new Map<string, string>();
  if (byEmail.length) {
    // Grouped by the database's own lower(), so "same email" means what the unique index means.
    const rows: { n: string; id: string }[] = await tx.query(
      `WITH input AS (SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(email, name, n)),
       donor AS (
         SELECT (array_agg(email ORDER BY n))[1] AS email, (array_agg(name ORDER BY n) FILTER (WHERE name IS NOT NULL))[1] AS name
           FROM input GROUP BY lower(email)),
       upserted AS (
         INSERT INTO donors (email, name) SELECT email, name FROM donor ORDER BY lower(email)
         ON CONFLICT ((lower(email))) DO UPDATE SET name = COALESCE(donors.name, EXCLUDED.name), updated_at = now()
         RETURNING id, lower(email) AS key)
       SELECT i.n, u.id FROM input i JOIN upserted u ON u.key = lower(i.email)`,
      [byEmail.map((p) => p.email), byEmail.map((p) => p.name)],
    );
    for (const row of rows) {
      const { at, email } = byEmail[Number(row.n) - 1];
      donorIds[at] = row.id;
      donorOfEmail.set(email, row.id);
    }
  }
  if (emailOfNewCustomer.size) {
    const links = [...emailOfNewCustomer].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await tx.query(
      `INSERT INTO donor_stripe_customers (stripe_customer_id, donor_id)
       SELECT * FROM unnest($1::text[], $2::uuid[]) ORDER BY 1
       ON CONFLICT DO NOTHING`,
      [links.map(([customer]) => customer), links.map(([, email]) => donorOfEmail.get(email))],
    );
  }
  return donorIds;
}
