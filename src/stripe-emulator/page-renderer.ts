/** Rendering the hosted pages: Handlebars views (every value escaped), strict headers, no scripts. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Response } from 'express';
import { create as createHandlebars } from 'express-handlebars';

/** views/stripe-emulator, found from here both when running the TypeScript sources and the compiled dist/. */
export function findViewsDir(): string {
  const candidates: string[] = [];
  for (let dir = __dirname, i = 0; i < 6; i++, dir = path.dirname(dir)) candidates.push(path.join(dir, 'views', 'stripe-emulator'));
  candidates.push(path.join(process.cwd(), 'views', 'stripe-emulator'));
  const found = candidates.find((dir) => existsSync(path.join(dir, 'layout.hbs')));
  if (!found) throw new Error(`Stripe emulator: views/stripe-emulator not found (looked in ${candidates.join(', ')})`);
  return found;
}

export interface PageRenderer {
  /** `formTargets`: URLs the page's forms may end up at (redirects included), allowed by its CSP form-action. */
  render(res: Response, status: number, view: string, data: Record<string, unknown>, formTargets?: (string | null | undefined)[]): Promise<void>;
  notice(res: Response, status: number, heading: string, message: string, link?: { href: string; label: string }): Promise<void>;
}

export function createPageRenderer(viewsDir: string): PageRenderer {
  const hbs = createHandlebars({ extname: '.hbs', layoutsDir: viewsDir, defaultLayout: 'layout' });
  const cacheTemplates = process.env.NODE_ENV !== 'development';

  const render: PageRenderer['render'] = async (res, status, view, data, formTargets = []) => {
    const html = await hbs.renderView(path.join(viewsDir, `${view}.hbs`), { ...data, cache: cacheTemplates });
    const origins = formTargets.filter((u): u is string => Boolean(u)).map((u) => new URL(u).origin);
    const formAction = ["'self'", ...new Set(origins)].join(' ');
    res.status(status);
    res.set({
      'Content-Security-Policy': `default-src 'none'; style-src 'self'; img-src 'self' data:; form-action ${formAction}; base-uri 'none'; frame-ancestors 'none'`,
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
    });
    res.type('html').send(html);
  };
  return {
    render,
    notice: (res, status, heading, message, link) => render(res, status, 'notice', { title: heading, heading, message, link }),
  };
}

export function perLabel(interval: string, count: number): string {
  return count === 1 ? `per ${interval}` : `every ${count} ${interval}s`;
}

export function formatDate(unix: number): string {
  return new Intl.DateTimeFormat('en', { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(unix * 1000));
}
