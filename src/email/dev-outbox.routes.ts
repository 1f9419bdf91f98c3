import { Router } from 'express';
import { NotFoundError } from '../web/errors';
import type { FileOutbox } from './file-outbox';

const WRITTEN_AT = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'UTC' });

/**
 * /dev/outbox: the mail Kettle wrote to the file outbox (SMTP_URL unset), newest first, each
 * shown in a sandboxed frame. Mounted only while the Stripe emulator runs (test mode).
 */
export function devOutboxRoutes(outbox: FileOutbox | null): Router {
  const router = Router();
  // Mail holds donors' names and addresses: no cache keeps it.
  router.use('/dev/outbox', (_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  router.get('/dev/outbox', async (_req, res) => {
    const mails = outbox ? await outbox.list() : [];
    res.render('dev-outbox', {
      title: 'Mail outbox',
      sentBySmtp: outbox === null,
      dir: outbox?.dir,
      mails: mails.map((m) => ({ id: m.id, to: m.to, subject: m.subject, writtenAt: `${WRITTEN_AT.format(new Date(m.writtenAt))} UTC` })),
    });
  });

  // The mail's own HTML, for the listing's frame: sandboxed by its CSP even when opened alone,
  // no script, and its links open in the whole window (the manage link leads on to the account).
  router.get('/dev/outbox/:id', async (req, res) => {
    const mail = await outbox?.read(req.params.id);
    if (!mail) throw new NotFoundError('There is no such mail in the outbox.');
    res.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox allow-top-navigation-by-user-activation allow-popups");
    res.type('html').send(mail.html.replace(/<head>/i, '<head><base target="_top">'));
  });

  router.get('/dev/outbox/:id/text', async (req, res) => {
    const mail = await outbox?.read(req.params.id);
    if (!mail) throw new NotFoundError('There is no such mail in the outbox.');
    res.type('text/plain; charset=utf-8').send(mail.text);
  });
  return router;
}
