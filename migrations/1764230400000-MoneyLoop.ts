import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Campaigns, donors, checkout intents, the ledger with its kept totals, and the webhook inbox. */
export class MoneyLoop1764230400000 implements MigrationInterface {
  name = 'MoneyLoop1764230400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE campaigns (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 80),
        title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
        story_markdown text NOT NULL DEFAULT '',
        currency char(3) NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
        goal_amount bigint NOT NULL CHECK (goal_amount > 0),
        preset_amounts bigint[] NOT NULL DEFAULT '{}',
        default_frequency text NOT NULL DEFAULT 'once' CHECK (default_frequency IN ('once', 'monthly', 'annual')),
        starts_at timestamptz NOT NULL DEFAULT now(),
        ends_at timestamptz,
        active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (ends_at IS NULL OR ends_at > starts_at)
      )`);

    await q.query(`
      CREATE TABLE donors (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL,
        name text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX donors_email_lower_key ON donors (lower(email))`);
    // Checkout makes a new Customer per gift, so one donor may have many.
    await q.query(`
      CREATE TABLE donor_stripe_customers (
        stripe_customer_id text PRIMARY KEY,
        donor_id uuid NOT NULL REFERENCES donors(id),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX donor_stripe_customers_donor_idx ON donor_stripe_customers (donor_id)`);

    await q.query(`
      CREATE TABLE checkout_intents (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        campaign_id uuid NOT NULL REFERENCES campaigns(id),
        frequency text NOT NULL CHECK (frequency IN ('once', 'monthly', 'annual')),
        donation_amount bigint NOT NULL CHECK (donation_amount > 0),
        fee_cover_amount bigint NOT NULL DEFAULT 0 CHECK (fee_cover_amount >= 0),
        total_amount bigint NOT NULL CHECK (total_amount = donation_amount + fee_cover_amount),
        currency char(3) NOT NULL,
        email text NOT NULL,
        donor_name text,
        comment text,
        anonymous boolean NOT NULL DEFAULT false,
        dedication text,
        newsletter boolean NOT NULL DEFAULT false,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'open', 'completed', 'expired', 'failed')),
        stripe_checkout_session_id text UNIQUE,
        checkout_url text,
        stripe_customer_id text,
        stripe_subscription_id text,
        donor_id uuid REFERENCES donors(id),
        completed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX checkout_intents_campaign_idx ON checkout_intents (campaign_id, created_at)`);

    await q.query(`
      CREATE TABLE recurring_gifts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        stripe_subscription_id text NOT NULL UNIQUE,
        campaign_id uuid REFERENCES campaigns(id),
        donor_id uuid REFERENCES donors(id),
        checkout_intent_id uuid REFERENCES checkout_intents(id),
        stripe_customer_id text,
        status text NOT NULL DEFAULT 'incomplete',
        amount bigint,
        currency char(3),
        interval text,
        cancel_at_period_end boolean NOT NULL DEFAULT false,
        paused boolean NOT NULL DEFAULT false,
        current_period_end timestamptz,
        failed_payment_count integer NOT NULL DEFAULT 0,
        last_payment_failed_at timestamptz,
        stripe_state_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE ledger_entries (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        campaign_id uuid NOT NULL REFERENCES campaigns(id),
        donor_id uuid REFERENCES donors(id),
        kind text NOT NULL CHECK (kind IN ('gift', 'refund', 'dispute_lost')),
        amount bigint NOT NULL,
        currency char(3) NOT NULL,
        fee_cover_amount bigint NOT NULL DEFAULT 0,
        source text NOT NULL CHECK (source IN ('stripe', 'offline')),
        frequency text CHECK (frequency IN ('once', 'monthly', 'annual')),
        renewal boolean NOT NULL DEFAULT false,
        gift_entry_id uuid REFERENCES ledger_entries(id),
        checkout_intent_id uuid REFERENCES checkout_intents(id),
        stripe_checkout_session_id text UNIQUE,
        stripe_invoice_id text UNIQUE,
        stripe_payment_intent_id text UNIQUE,
        stripe_subscription_id text,
        stripe_refund_id text UNIQUE,
        stripe_dispute_id text UNIQUE,
        occurred_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((kind = 'gift') = (amount > 0)),
        CHECK ((kind = 'gift') = (gift_entry_id IS NULL))
      )`);
    await q.query(`CREATE INDEX ledger_entries_campaign_idx ON ledger_entries (campaign_id, occurred_at DESC)`);
    await q.query(`CREATE INDEX ledger_entries_gift_idx ON ledger_entries (gift_entry_id) WHERE gift_entry_id IS NOT NULL`);

    await q.query(`
      CREATE TABLE campaign_totals (
        campaign_id uuid PRIMARY KEY REFERENCES campaigns(id),
        raised_amount bigint NOT NULL DEFAULT 0,
        gift_count integer NOT NULL DEFAULT 0 CHECK (gift_count >= 0),
        donor_count integer NOT NULL DEFAULT 0 CHECK (donor_count >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE campaign_donor_totals (
        campaign_id uuid NOT NULL REFERENCES campaigns(id),
        donor_id uuid NOT NULL REFERENCES donors(id),
        net_amount bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (campaign_id, donor_id)
      )`);

    await q.query(`
      CREATE TABLE stripe_events (
        id text PRIMARY KEY,
        type text NOT NULL,
        api_version text,
        stripe_created_at timestamptz NOT NULL,
        payload jsonb NOT NULL,
        status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'processed', 'ignored', 'deferred', 'failed')),
        awaiting text,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        received_at timestamptz NOT NULL DEFAULT now(),
        processed_at timestamptz
      )`);
    await q.query(`CREATE INDEX stripe_events_awaiting_idx ON stripe_events (awaiting) WHERE status = 'deferred'`);
    await q.query(`CREATE INDEX stripe_events_unfinished_idx ON stripe_events (received_at) WHERE status IN ('received', 'deferred')`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['stripe_events', 'campaign_donor_totals', 'campaign_totals', 'ledger_entries', 'recurring_gifts',
      'checkout_intents', 'donor_stripe_customers', 'donors', 'campaigns']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
