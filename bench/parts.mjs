// The benchmark's parts. Each starts what it measures in its own processes and stops it after.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { recomputeTotals } from '../dist/src/ledger/ledger.service.js';
import { descendantsPssMb, freePort, load, rssMb, startNode, waitFor200 } from './lib.mjs';
import { createBenchCampaign, loadGifts, openSurgeIntents } from './seed.mjs';

const WEBHOOK_SECRET = 'whsec_kettle_bench';
const SESSION_SECRET = 'kettle-bench-session-secret-0123456789abcdef';
const QUIET = { LOG_LEVEL: 'warn', SEED_DEMO: 'false' };
const ROUNDS = 4;

/**
 * Kettle's own server (dist/src/server.js) on the bench database, with the emulator as Stripe, in
 * a DATA_DIR of its own (without SMTP_URL its mail would otherwise pile up in ./data/outbox).
 */
async function startKettle(ctx, { smtpUrl } = {}) {
  const emulator = startNode('bench/emulator.mjs');
  const { url: apiBase } = await emulator.message('url');
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kettle-bench-data-'));
  const server = startNode('dist/src/server.js', {
    env: {
      ...QUIET, PORT: String(port), DATABASE_URL: ctx.url, DATA_DIR: dataDir, SMTP_URL: smtpUrl ?? '', STRIPE_SECRET_KEY: 'sk_test_kettle_bench', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_API_BASE: apiBase,
      // The donate bench posts from one address and one email: the card-testing limits would answer 429.
      DONATE_LIMIT_PER_IP_PER_HOUR: '1000000', DONATE_LIMIT_PER_EMAIL_PER_HOUR: '1000000', DONATE_LIMIT_PER_CAMPAIGN_PER_MINUTE: '1000000',
      DONATE_HARD_LIMIT_PER_IP_PER_HOUR: '10000000',
    },
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor200(`${baseUrl}/healthz`, { child: server.child });
  } catch (err) {
    await Promise.all([server.stop(), emulator.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`${err.message}\n${server.output()}`);
  }
  return {
    baseUrl,
    pid: server.child.pid,
    async stop() {
      await Promise.all([server.stop(), emulator.stop()]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A real SMTP server that accepts every mail and counts them (the receipts a surge owes). */
async function startSmtpSink() {
  const { SMTPServer } = await import('smtp-server');
  let received = 0;
  let lastAt = 0;
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => { received += 1; lastAt = performance.now(); callback(); });
    },
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${server.server.address().port}`,
    get received() { return received; },
    get lastAt() { return lastAt; },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Campaign page and progress JSON with many gifts, each against a constant route in the same process. */
export async function runPages(ctx) {
  const { db, settings, report } = ctx;
  const slug = 'bench-million';
  const campaignId = await createBenchCampaign(db, slug, 'A campaign with many gifts');
  const seeded = performance.now();
  await loadGifts(db, campaignId, settings.gifts);
  report('seed_gifts', settings.gifts, 'gifts');
  report('seed_time', (performance.now() - seeded) / 1000, 's');

  const port = await freePort();
  // BENCH_PROFILE=dir writes a CPU profile of the page server there (open it in Chrome's DevTools).
  const args = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const server = startNode('bench/page-server.mjs', { args, env: { ...QUIET, PORT: String(port), DATABASE_URL: ctx.url, BENCH_SLUG: slug, SESSION_SECRET } });
  await server.message('listening');
  const base = `http://127.0.0.1:${port}`;
  try {
    const pairs = [
      ['page', `/campaigns/${slug}`, '/bench/constant-page'],
      ['progress', `/api/campaigns/${slug}/progress`, '/bench/constant-progress'],
    ];
    for (const [name, real, constant] of pairs) {
      await load({ url: base + real, connections: 50, duration: 2 }); // warm up: JIT, pool, caches
      // Alternating short rounds, so a neighbour's load on a shared machine weighs on both sides alike.
      const rounds = { real: [], constant: [] };
      for (let round = 0; round < ROUNDS; round++) {
        rounds.real.push(await load({ url: base + real, connections: 50, duration: settings.seconds / ROUNDS }));
        rounds.constant.push(await load({ url: base + constant, connections: 50, duration: settings.seconds / ROUNDS }));
      }
      const failed = rounds.real.reduce((sum, r) => sum + r.failed, 0);
      if (failed) throw new Error(`${real}: ${failed} failed requests`);
      const rps = (results) => results.reduce((sum, r) => sum + r.requestsPerSecond, 0) / results.length;
      report(`${name}_rps`, rps(rounds.real), 'req/s');
      report(`${name}_p99`, Math.max(...rounds.real.map((r) => r.p99Ms)), 'ms');
      report(`${name}_constant_rps`, rps(rounds.constant), 'req/s');
      report(`${name}_ratio`, rps(rounds.real) / rps(rounds.constant), 'ratio');
    }
    await runAccountPages(base, settings, report);
  } finally {
    await server.stop();
  }
}

/**
 * /account for 50 donors signed in at once (each through their manage link's button, as a donor
 * does), among the million gifts: every request reads one donor's gifts and plans.
 */
async function runAccountPages(base, settings, report) {
  const { AccountLinks } = await import('../dist/src/account/links.js');
  const links = new AccountLinks('http://127.0.0.1', SESSION_SECRET);
  const cookies = [];
  for (let n = 1; n <= 50; n++) {
    const donorId = await donorIdFor(n);
    const path = new URL(links.manageUrl(donorId)).pathname;
    const page = await fetch(base + path);
    const preSession = page.headers.get('set-cookie').split(';')[0];
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())[1];
    const signedIn = await fetch(base + path, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams({ _csrf: csrf }),
      headers: { cookie: preSession, 'content-type': 'application/x-www-form-urlencoded', origin: base },
    });
    if (signedIn.status !== 303) throw new Error(`signing donor ${n} in answered ${signedIn.status}`);
    cookies.push(signedIn.headers.get('set-cookie').split(';')[0]);
  }
  let next = 0;
  const request = { method: 'GET', path: '/account', setupRequest: (req) => ({ ...req, headers: { cookie: cookies[next++ % cookies.length] } }) };
  await load({ url: base, connections: 50, duration: 2, requests: [request] });
  const result = await load({ url: base, connections: 50, duration: settings.seconds, requests: [request] });
  if (result.failed) throw new Error(`/account: ${result.failed} failed requests (${JSON.stringify(result.statusCodes)})`);
  report('account_rps', result.requestsPerSecond, 'req/s');
  report('account_p50', result.p50Ms, 'ms');
  report('account_p99', result.p99Ms, 'ms');
}

/** The id bench/seed.mjs gives its n-th donor. */
async function donorIdFor(n) {
  const { createHash } = await import('node:crypto');
  const hex = createHash('md5').update(`bench-donor-${n}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The admin dashboard of the campaign with a million gifts (seeded here unless the pages part did),
 * for 50 connections of one signed-in admin: the page and its stats.json, p50 and p99.
 */
export async function runDashboard(ctx) {
  const { db, settings, report } = ctx;
  const slug = 'bench-million';
  const { rows: [existing] } = await db.query(`SELECT id FROM campaigns WHERE slug = $1`, [slug]);
  if (!existing) await loadGifts(db, await createBenchCampaign(db, slug, 'A campaign with many gifts'), settings.gifts);

  const port = await freePort();
  const server = startNode('bench/page-server.mjs', { env: { ...QUIET, PORT: String(port), DATABASE_URL: ctx.url, BENCH_SLUG: slug, SESSION_SECRET } });
  await server.message('listening');
  const base = `http://127.0.0.1:${port}`;
  try {
    const cookie = await signedInAdminCookie(ctx.url, base);
    const routes = [
      ['dashboard_page', `/admin/campaigns/${slug}`], ['dashboard_stats', `/admin/campaigns/${slug}/stats.json`],
      // The rest of the console a campaign team keeps open: the gift list, a gift search by email, the donor search.
      ['gift_list', `/admin/gifts?campaign=${slug}`], ['gift_search', '/admin/gifts?q=donor4321%40bench.example'],
      ['donor_search', '/admin/donors?q=donor4321'],
    ];
    for (const [name, path] of routes) {
      const request = { url: base + path, connections: 50, headers: { cookie } };
      await load({ ...request, duration: 2 }); // warm up: JIT, pool, the stats cache
      const result = await load({ ...request, duration: settings.seconds });
      if (result.failed) throw new Error(`${path}: ${result.failed} failed requests (${JSON.stringify(result.statusCodes)})`);
      report(`${name}_rps`, result.requestsPerSecond, 'req/s');
      report(`${name}_p50`, result.p50Ms, 'ms');
      report(`${name}_p99`, result.p99Ms, 'ms');
    }
  } finally {
    await server.stop();
  }
}

/** An admin account made as the CLI makes one, signed in through the console's own form; returns its session cookie. */
async function signedInAdminCookie(databaseUrl, base) {
  const { createDataSource } = await import('../dist/src/db/data-source.js');
  const { createAdminAccount } = await import('../dist/src/admin/accounts/admin-accounts.service.js');
  const dataSource = createDataSource(databaseUrl, 1);
  await dataSource.initialize();
  const email = `bench-admin-${Date.now()}@bench.example`;
  const password = 'bench admin password, long enough';
  try {
    await createAdminAccount(dataSource, { email, role: 'viewer', password });
  } finally {
    await dataSource.destroy();
  }
  const form = await fetch(`${base}/admin/sign-in`);
  const preSession = form.headers.get('set-cookie').split(';')[0];
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())[1];
  const signedIn = await fetch(`${base}/admin/sign-in`, {
    method: 'POST', redirect: 'manual', body: new URLSearchParams({ _csrf: csrf, email, password }),
    headers: { cookie: preSession, 'content-type': 'application/x-www-form-urlencoded', origin: base },
  });
  if (signedIn.status !== 303) throw new Error(`admin sign-in answered ${signedIn.status}`);
  return signedIn.headers.get('set-cookie').split(';')[0];
}

/** Signed checkout.session.completed events for sessions Kettle created, shaped like Stripe's own example. */
function surgeEvents(intents, amount) {
  const stripe = new Stripe('sk_test_kettle_bench');
  const created = Math.floor(Date.now() / 1000);
  return intents.map((intent, i) => {
    const session = {
      id: intent.session_id, object: 'checkout.session', mode: 'payment', status: 'complete', payment_status: 'paid',
      amount_subtotal: amount, amount_total: amount, currency: 'usd', client_reference_id: intent.id,
      metadata: { kettle_checkout_intent_id: intent.id }, customer: `cus_bench_surge_${i}`, customer_creation: 'always',
      customer_details: { email: intent.email, name: null, address: null, phone: null, tax_exempt: 'none', tax_ids: [] },
      payment_intent: `pi_bench_surge_${i}`, submit_type: 'donate', livemode: false, created, expires_at: created + 86_400,
      subscription: null, invoice: null, payment_link: null, ui_mode: 'hosted_page', url: null,
    };
    const payload = JSON.stringify({
      id: `evt_bench_surge_${i}`, object: 'event', api_version: '2026-10-28.endive', created, livemode: false,
      pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: 'checkout.session.completed', data: { object: session },
    });
    return { payload, signature: stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }) };
  });
}

async function giftCount(db, campaignId) {
  const { rows: [row] } = await db.query(`SELECT gift_count FROM campaign_totals WHERE campaign_id = $1`, [campaignId]);
  return Number(row.gift_count);
}

/**
 * 20,000 gifts for one campaign at 64 connections, timed until the kept totals show every one,
 * then until a real SMTP server has every receipt.
 */
export async function runSurge(ctx) {
  const { db, settings, report } = ctx;
  const amount = 2500;
  const campaignId = await createBenchCampaign(db, 'bench-surge', 'A campaign in a surge');
  const events = surgeEvents(await openSurgeIntents(db, campaignId, settings.surgeEvents, amount), amount);
  const smtp = await startSmtpSink();
  const kettle = await startKettle(ctx, { smtpUrl: smtp.url });
  try {
    const started = performance.now();
    const deadline = started + settings.surgeTimeoutS * 1000;
    // Like Stripe, send again what was not answered 2xx (Stripe waits longer between tries).
    let toSend = events.map((_, i) => i);
    let firstPass = null;
    let passes = 0;
    while (toSend.length && performance.now() < deadline) {
      const failed = [];
      let next = 0;
      const pass = await load({
        url: kettle.baseUrl,
        connections: Math.min(64, toSend.length),
        amount: toSend.length,
        requests: [{
          method: 'POST',
          path: '/stripe/webhook',
          setupRequest: (req, context) => {
            context.event = toSend[next++ % toSend.length];
            const event = events[context.event];
            return { ...req, headers: { 'content-type': 'application/json', 'stripe-signature': event.signature }, body: event.payload };
          },
          onResponse: (status, _body, context) => { if (status < 200 || status > 299) failed.push(context.event); },
        }],
      }, [200], (deadline - performance.now()) / 1000);
      firstPass ??= pass;
      passes += 1;
      toSend = failed;
    }
    let counted = await giftCount(db, campaignId);
    while (counted < events.length && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      counted = await giftCount(db, campaignId);
    }
    const seconds = (performance.now() - started) / 1000;
    const manager = { query: async (sql, params) => (await db.query(sql, params)).rows };
    const recomputed = await recomputeTotals(manager, campaignId);
    const { rows: [kept] } = await db.query(`SELECT raised_amount, gift_count, donor_count FROM campaign_totals WHERE campaign_id = $1`, [campaignId]);
    const matchesLedger = Number(kept.raised_amount) === recomputed.raised && Number(kept.gift_count) === recomputed.gifts
      && Number(kept.donor_count) === recomputed.donors;
    report('surge_events', events.length, 'events');
    report('surge_gifts_counted', counted, 'gifts');
    report('surge_seconds', seconds, 's');
    report('surge_gifts_per_s', counted / seconds, 'gifts/s');
    report('surge_webhook_rps', firstPass.requestsPerSecond, 'req/s');
    report('surge_webhook_p99', firstPass.p99Ms, 'ms');
    report('surge_webhook_non2xx_first_pass', firstPass.failed, 'requests');
    report('surge_delivery_passes', passes, 'passes');
    report('surge_totals_exact', matchesLedger && recomputed.raised === events.length * amount ? 1 : 0, 'bool');

    while (smtp.received < counted && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const receiptSeconds = ((smtp.lastAt || performance.now()) - started) / 1000;
    report('surge_receipts_sent', smtp.received, 'mails');
    report('surge_receipts_seconds', receiptSeconds, 's');
    report('surge_receipts_per_s', smtp.received / receiptSeconds, 'mails/s');
  } finally {
    await kettle.stop();
    await smtp.close();
  }
}

/** The donate form's POST, which creates a Checkout Session on the emulator and redirects to it. */
export async function runDonate(ctx) {
  const { db, settings, report } = ctx;
  await createBenchCampaign(db, 'bench-donate', 'A campaign taking gifts');
  const kettle = await startKettle(ctx);
  try {
    const request = {
      url: `${kettle.baseUrl}/campaigns/bench-donate/donate`,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: kettle.baseUrl, 'sec-fetch-site': 'same-origin' },
      body: 'amount=2500&frequency=once&email=donor%40bench.example&name=Bench',
    };
    const probe = await fetch(request.url, { method: 'POST', headers: request.headers, body: request.body, redirect: 'manual' });
    if (probe.status !== 303) throw new Error(`donate answered ${probe.status}: ${(await probe.text()).slice(0, 2000)}`);
    await load({ ...request, connections: 16, duration: 2 }, [303]);
    const result = await load({ ...request, connections: 16, duration: settings.seconds }, [303]);
    report('donate_rps', result.requestsPerSecond, 'req/s');
    report('donate_p99', result.p99Ms, 'ms');
    report('donate_failed', result.failed, 'requests');
    if (result.failed) console.log(`bench: donate answers by status: ${JSON.stringify(result.statusCodes)}`);
  } finally {
    await kettle.stop();
  }
}

/** `node dist/src/server.js` with a fresh DATA_DIR (the embedded Postgres): first 200, idle memory, restart. */
export async function runStart(ctx) {
  const { report } = ctx;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kettle-bench-start-'));
  chmodSync(dataDir, 0o755); // as root, the server's user must reach it (else its cluster goes to /var/lib/kettle)
  const port = await freePort();
  const env = { LOG_LEVEL: 'warn', PORT: String(port), DATA_DIR: dataDir, DATABASE_URL: '', STRIPE_SECRET_KEY: '', STRIPE_WEBHOOK_SECRET: '' };
  const healthz = `http://127.0.0.1:${port}/healthz`;
  try {
    let server = startNode('dist/src/server.js', { env });
    report('cold_start_first_200', await waitFor200(healthz, { child: server.child }), 'ms');
    // Idle: a few seconds after the first answer, nothing asked of it.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    report('idle_rss_server', rssMb(server.child.pid), 'MB');
    const postgres = descendantsPssMb(server.child.pid);
    report('idle_pss_embedded_postgres', postgres.mb, 'MB');
    report('idle_memory_total', rssMb(server.child.pid) + postgres.mb, 'MB');
    await server.stop();

    server = startNode('dist/src/server.js', { env });
    report('restart_first_200', await waitFor200(healthz, { child: server.child }), 'ms');
    await server.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The gifts CSV export of the admin console over every gift (1,000,000 unless BENCH_GIFTS says
 * otherwise; the pages part's gifts count when it ran first), read as fast as this process can:
 * rows per second, and the server's peak resident memory while it streams (sampled every 50 ms).
 */
export async function runGiftsCsv(ctx) {
  const { db, settings, report } = ctx;
  const { rows: [{ gifts }] } = await db.query(`SELECT count(*)::int AS gifts FROM ledger_entries WHERE kind = 'gift'`);
  if (gifts < settings.gifts) {
    const campaignId = await createBenchCampaign(db, 'bench-csv', 'A campaign to export');
    await loadGifts(db, campaignId, settings.gifts - gifts);
  }
  const kettle = await startKettle(ctx);
  try {
    const cookie = await signedInAdminCookie(ctx.url, kettle.baseUrl);
    const idleRss = rssMb(kettle.pid);
    let peakRss = idleRss;
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssMb(kettle.pid)); }, 50);
    const started = performance.now();
    let lines = 0;
    let bytes = 0;
    try {
      const res = await fetch(`${kettle.baseUrl}/admin/exports/gifts.csv`, { headers: { cookie } });
      if (res.status !== 200) throw new Error(`gifts.csv answered ${res.status}`);
      for await (const chunk of res.body) {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
      }
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    const rows = lines - 1; // the header
    if (rows < settings.gifts) throw new Error(`gifts.csv had ${rows} rows, expected at least ${settings.gifts}`);
    report('gifts_csv_rows', rows, 'rows');
    report('gifts_csv_rows_per_s', rows / seconds, 'rows/s');
    report('gifts_csv_mb', bytes / 2 ** 20, 'MB');
    report('gifts_csv_idle_rss_server', idleRss, 'MB');
    report('gifts_csv_peak_rss_server', peakRss, 'MB');
  } finally {
    await kettle.stop();
  }
}
