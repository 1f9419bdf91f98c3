import 'reflect-metadata';
import net from 'node:net';
import pino from 'pino';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createDataSource, runMigrations } from '../src/db/data-source';
import { createStripeClient } from '../src/payments/stripe/stripe-client';
import { createHttpServer } from '../src/web/http-server';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy';

let db: TestDatabase;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const migrator = createDataSource(db.url, 2);
  await migrator.initialize();
  await runMigrations(migrator);
  await migrator.destroy();
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
afterAll(() => db?.drop());

/** Kettle on its own pool (through the proxy when given), with short database timeouts. */
async function kettleOn(opts: { poolSize: number; proxy?: TcpProxy; statementTimeoutMs?: number; connectTimeoutMs: number }) {
  const url = new URL(db.url);
  if (opts.proxy) {
    url.hostname = '127.0.0.1';
    url.port = String(opts.proxy.port);
  }
  const dataSource: DataSource = createDataSource(url.toString(), opts.poolSize, {
    statementTimeoutMs: opts.statementTimeoutMs ?? 30_000, connectTimeoutMs: opts.connectTimeoutMs, idleInTransactionTimeoutMs: 60_000,
  });
  await dataSource.initialize();
  cleanups.push(() => dataSource.destroy());
  const { app } = createApp({
    config: loadConfig({ NODE_ENV: 'test', SESSION_SECRET: 'x'.repeat(32) }),
    dataSource,
    // Never reached: these tests do not donate.
    stripe: createStripeClient({ secretKey: 'sk_test_unused', apiBase: 'http://127.0.0.1:9' }),
    webhookSecret: 'whsec_unused',
    logger: pino({ level: 'silent' }),
    testMode: true,
    checkoutOrigins: [],
  });
  return { app, dataSource };
}

describe('a database that stalls without a word', () => {
  it('fails health checks while stalled and recovers by itself once the database answers again', async () => {
    const u = new URL(db.url);
    const proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    cleanups.push(() => proxy.close());
    const poolSize = 3;
    const { app, dataSource } = await kettleOn({ poolSize, proxy, statementTimeoutMs: 500, connectTimeoutMs: 500 });
    // Every pooled connection open before the stall, so each is dead after it.
    await Promise.all(Array.from({ length: poolSize }, () => dataSource.query('SELECT pg_sleep(0.05)')));
    expect((await request(app).get('/healthz')).status).toBe(200);

    proxy.stall();
    const stalled = await request(app).get('/healthz');
    expect(stalled.status).toBe(503);
    expect(stalled.body).toEqual({ status: 'unavailable', message: 'The database is not reachable.' });

    proxy.restore();
    // Each dead connection fails at most one request before it is dropped: no restart needed.
    const statuses: number[] = [];
    while (statuses.at(-1) !== 200 && statuses.length <= poolSize + 1) statuses.push((await request(app).get('/healthz')).status);
    expect(statuses.at(-1)).toBe(200);
    for (let i = 0; i < poolSize * 2; i += 1) expect((await request(app).get('/healthz')).status).toBe(200);
  });
});

describe('a pool with no free connection', () => {
  it('answers 503 with Retry-After, never 500, and serves again once a connection is free', async () => {
    const { app, dataSource } = await kettleOn({ poolSize: 1, connectTimeoutMs: 200 });
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    try {
      const page = await request(app).get('/campaigns/never-looked-up');
      expect(page.status).toBe(503);
      expect(page.headers['retry-after']).toBe('5');
      expect(page.text).toContain('We are very busy right now. Please try again in a few seconds.');
      const json = await request(app).get('/api/campaigns/never-looked-up-either/progress');
      expect(json.status).toBe(503);
      expect(json.headers['retry-after']).toBe('5');
      expect(json.body).toEqual({ error: 'unavailable', message: 'We are very busy right now. Please try again in a few seconds.' });
    } finally {
      await holder.release();
    }
    expect((await request(app).get('/campaigns/never-looked-up')).status).toBe(404);
  });
});

describe('the HTTP server and slow clients', () => {
  async function rawExchange(port: number, bytes: string): Promise<string> {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => { received += chunk.toString(); });
    socket.write(bytes);
    // The server, not the client, ends this exchange: the test waits for it to close the socket.
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    return received;
  }

  async function listening(http: { headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number }) {
    // Like the webhook route, the handler reads the whole body before answering.
    const server = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    }, http);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    return (server.address() as net.AddressInfo).port;
  }

  it('answers 408 and hangs up on a client that never finishes its headers', async () => {
    const port = await listening({ headersTimeoutMs: 300, requestTimeoutMs: 5_000, keepAliveTimeoutMs: 5_000 });
    expect(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: kettle\r\nX-Slow: ')).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('answers 408 and hangs up on a body that trickles past the request timeout', async () => {
    const port = await listening({ headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 5_000 });
    const head = 'POST /stripe/webhook HTTP/1.1\r\nHost: kettle\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n';
    expect(await rawExchange(port, `${head}{"id":"evt_`)).toMatch(/^HTTP\/1\.1 408 /);
  });
});
