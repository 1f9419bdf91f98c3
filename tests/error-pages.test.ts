import path from 'node:path';
import express from 'express';
import { engine } from 'express-handlebars';
import pino from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { errorHandler } from '../src/web/errors';

const VIEWS = path.resolve(__dirname, '../views');

/** An app whose every route fails the way a request can, answered by Kettle's error handler. */
function failingApp(failure: unknown) {
  const lines: Record<string, unknown>[] = [];
  const app = express();
  app.engine('hbs', engine({ extname: '.hbs', defaultLayout: 'main', layoutsDir: path.join(VIEWS, 'layouts'), partialsDir: path.join(VIEWS, 'partials') }));
  app.set('view engine', 'hbs');
  app.set('views', VIEWS);
  app.use(() => { throw failure; });
  app.use(errorHandler(pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) })));
  return { app, lines };
}

describe('error pages', () => {
  it('say sorry without a stack trace, and log the path without a sign-in token', async () => {
    const { app, lines } = failingApp(new Error('boom at /secret/place'));
    const token = '6f0c6d0e-3a51-4d0b-9a53-0a7a4e1f2b11.mf3k2a.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
    const res = await request(app).get(`/account/manage/${token}?next=/account`);
    expect(res.status).toBe(500);
    expect(res.text).toContain('Something went wrong on our side');
    expect(res.text).not.toContain('boom');
    expect(lines).toHaveLength(1);
    expect(lines[0].path).toBe('/account/manage/…');
    expect(JSON.stringify(lines)).not.toContain(token.slice(0, 36));
  });

  it('answer 503 with Retry-After when the database is away, and log no token either', async () => {
    const { app, lines } = failingApp(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    const res = await request(app).post('/account/sign-in/c7a3b9a2-1a2b-4c3d-8e9f-001122334455.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(lines[0].path).toBe('/account/sign-in/…');
  });
});
