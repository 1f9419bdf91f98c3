// Kettle's app as the server runs it, plus two constant routes registered here only: the same
// campaign template rendered from a fixed model, and a fixed progress JSON. Measured in the same
// process, they are what the pages would cost if reading the database cost nothing.
import 'reflect-metadata';
import { createServer } from 'node:http';
import { createApp } from '../dist/src/app.js';
import { campaignPageModel } from '../dist/src/campaigns/campaign-page.js';
import { campaignProgress, findCampaignBySlug } from '../dist/src/campaigns/campaign.service.js';
import { loadConfig } from '../dist/src/config.js';
import { createDataSource } from '../dist/src/db/data-source.js';
import { createLogger } from '../dist/src/logger.js';
import { createStripeClient } from '../dist/src/payments/stripe/stripe-client.js';

const config = { ...loadConfig({ ...process.env, SEED_DEMO: 'false' }), baseUrl: 'http://127.0.0.1' };
const logger = createLogger(config.logLevel);
const dataSource = createDataSource(process.env.DATABASE_URL, config.databasePoolSize);
await dataSource.initialize();
const stripe = createStripeClient({ secretKey: 'sk_test_bench', apiBase: 'http://127.0.0.1:9' });
const { app } = createApp({ config, dataSource, stripe, webhookSecret: 'whsec_bench', logger, testMode: true, checkoutOrigins: [] });

const slug = process.env.BENCH_SLUG;
const campaign = await findCampaignBySlug(dataSource, slug);
const pageModel = structuredClone(await campaignPageModel(dataSource, campaign, { fees: config.coverFees }));
const { daysLeft: _daysLeft, ...progress } = await campaignProgress(dataSource, campaign);
const progressJson = structuredClone(progress);

// After all of Kettle's middleware (helmet, logging, parsers) and before its 404 handler.
const routes = app.router.stack;
const notFoundAt = routes.findIndex((layer) => layer.name === 'notFound');
if (notFoundAt < 0) throw new Error('bench/page-server.mjs: Kettle\'s notFound handler is no longer in the app router');
const tail = routes.splice(notFoundAt);
app.get('/bench/constant-page', (_req, res) => res.render('campaign', pageModel));
app.get('/bench/constant-progress', (_req, res) => res.set('Cache-Control', 'no-store').json(progressJson));
routes.push(...tail);

const server = createServer(app);
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(JSON.stringify({ listening: server.address().port })));
process.on('SIGTERM', () => server.close(() => void dataSource.destroy().then(() => process.exit(0))));
