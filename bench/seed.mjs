// Set-based data for the benchmark: what months of giving leave in the tables, loaded in seconds
// rather than through a million webhook events. Every row is one Kettle itself could have written,
// and the kept totals are computed from the ledger rows, so a recomputation matches them.

/** A campaign with its (empty) kept totals row; returns its id. */
export async function createBenchCampaign(db, slug, title) {
  const { rows: [campaign] } = await db.query(
    `INSERT INTO campaigns (slug, title, story_markdown, currency, goal_amount, preset_amounts, starts_at, ends_at)
     VALUES ($1, $2, $3, 'usd', 500000000, '{1000,2500,5000,10000,25000}', now() - interval '400 days', now() + interval '30 days')
     RETURNING id`,
    [slug, title, 'Independent reporting costs money, and we answer only to our readers.\n\nEvery gift counts, **whatever its size**.'],
  );
  await db.query(`INSERT INTO campaign_totals (campaign_id) VALUES ($1)`, [campaign.id]);
  return campaign.id;
}

/**
 * `gifts` completed one-off Checkout gifts from gifts/4 donors over the past 300 days, with names,
 * some comments and some anonymous, then the per-donor and campaign totals from those rows.
 */
export async function loadGifts(db, campaignId, gifts) {
  const donors = Math.max(1, Math.floor(gifts / 4));
  // The rows are consistent by construction: where allowed (a superuser), skip the per-row
  // foreign-key triggers, which are most of a million-row insert's time.
  const skipTriggers = await db.query('SET session_replication_role = replica').then(() => true, () => false);
  await db.query('BEGIN');
  await db.query(
    `INSERT INTO donors (id, email, name)
     SELECT md5('bench-donor-' || n)::uuid, 'donor' || n || '@bench.example', 'Donor ' || n FROM generate_series(1, $1) n`,
    [donors],
  );
  await db.query(
    `INSERT INTO checkout_intents (id, campaign_id, frequency, donation_amount, total_amount, currency, email, donor_name,
        comment, anonymous, status, stripe_checkout_session_id, donor_id, completed_at, created_at)
     SELECT md5('bench-intent-' || n)::uuid, $1, 'once', 500 + (n % 100) * 100, 500 + (n % 100) * 100, 'usd',
            'donor' || (n % $3 + 1) || '@bench.example', 'Donor ' || (n % $3 + 1),
            CASE WHEN n % 10 = 0 THEN 'Keep up the good work, number ' || n END, n % 7 = 0, 'completed',
            'cs_bench_' || n, md5('bench-donor-' || (n % $3 + 1))::uuid,
            now() - make_interval(secs => ($2 - n) * 25.92), now() - make_interval(secs => ($2 - n) * 25.92)
       FROM generate_series(1, $2) n`,
    [campaignId, gifts, donors],
  );
  await db.query(
    `INSERT INTO ledger_entries (campaign_id, donor_id, kind, amount, currency, source, frequency, checkout_intent_id,
        stripe_checkout_session_id, stripe_payment_intent_id, occurred_at)
     SELECT campaign_id, donor_id, 'gift', total_amount, currency, 'stripe', 'once', id,
            stripe_checkout_session_id, 'pi_bench_' || substr(stripe_checkout_session_id, 10), completed_at
       FROM checkout_intents WHERE campaign_id = $1`,
    [campaignId],
  );
  await db.query(
    `INSERT INTO campaign_donor_totals (campaign_id, donor_id, net_amount)
     SELECT campaign_id, donor_id, SUM(amount) FROM ledger_entries WHERE campaign_id = $1 GROUP BY campaign_id, donor_id`,
    [campaignId],
  );
  await db.query(
    `UPDATE campaign_totals t
        SET raised_amount = s.raised, gift_count = s.gifts, donor_count = s.donors, updated_at = now()
       FROM (SELECT COALESCE(SUM(amount), 0) AS raised, COUNT(*) AS gifts, COUNT(DISTINCT donor_id) AS donors
               FROM ledger_entries WHERE campaign_id = $1) s
      WHERE t.campaign_id = $1`,
    [campaignId],
  );
  await db.query('COMMIT');
  if (skipTriggers) await db.query('RESET session_replication_role');
  // A bulk load leaves the planner's statistics behind: refresh them, as an import should.
  await db.query('ANALYZE');
}

/**
 * `count` Checkout Sessions Kettle created and the donor has not paid yet: open intents with the
 * session id and amount Kettle stored, which the surge's events then complete.
 */
export async function openSurgeIntents(db, campaignId, count, amount) {
  const { rows } = await db.query(
    `INSERT INTO checkout_intents (campaign_id, frequency, donation_amount, total_amount, currency, email, donor_name, status,
        stripe_checkout_session_id)
     SELECT $1, 'once', $3, $3, 'usd', 'surge' || n || '@bench.example', 'Surge ' || n, 'open', 'cs_test_surge_' || n
       FROM generate_series(1, $2) n
     RETURNING id, stripe_checkout_session_id AS session_id, email`,
    [campaignId, count, amount],
  );
  return rows;
}
