/** The hosted test-checkout and customer-portal pages (no scripts; every dynamic value escaped by Handlebars). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { create as createHandlebars } from 'express-handlebars';
import type Stripe from 'stripe';
import { updateSubscription } from './billing';
import { luhnValid, normaliseCardNumber } from './cards';
import { expireIfDue, pay, successRedirect } from './checkout';
import type { EmulatorContext } from './context';
import { StripeApiError } from './errors';
import { formatAmount } from './money';

/** views/stripe-emulator, found from here both when running the TypeScript sources and the compiled dist/. */
function findViewsDir(): string {
  const candidates: string[] = [];
  for (let dir = __dirname, i = 0; i < 6; i++, dir = path.dirname(dir)) candidates.push(path.join(dir, 'views', 'stripe-emulator'));
  candidates.push(path.join(process.cwd(), 'views', 'stripe-emulator'));
  const found = candidates.find((dir) => existsSync(path.join(dir, 'layout.hbs')));
  if (!found) throw new Error(`Stripe emulator: views/stripe-emulator not found (looked in ${candidates.join(', ')})`);
  return found;
}

const TEST_CARDS = [
  { number: '4242 4242 4242 4242', effect: 'pays' },
  { number: '4000 0000 0000 0002', effect: 'declined' },
  { number: '4000 0000 0000 9995', effect: 'declined: insufficient funds' },
  { number: '4000 0000 0000 0341', effect: 'declined (saved cards fail on the next charge)' },
];

interface CheckoutForm {
  email: string;
  name: string;
  cardNumber: string;
  exp: string;
  cvc: string;
}
type FormErrors = Partial<Record<'email' | 'card' | 'exp' | 'cvc', string>>;

export function pagesRouter(ctx: EmulatorContext): Router {
  const { store } = ctx;
  const viewsDir = findViewsDir();
  const hbs = createHandlebars({ extname: '.hbs', layoutsDir: viewsDir, defaultLayout: 'layout' });
  const cacheTemplates = process.env.NODE_ENV !== 'development';

  const render = async (res: Response, status: number, view: string, data: Record<string, unknown>, formTargets: string[] = []) => {
    const html = await hbs.renderView(path.join(viewsDir, `${view}.hbs`), { ...data, cache: cacheTemplates });
    const formAction = ["'self'", ...new Set(formTargets.map((u) => new URL(u).origin))].join(' ');
    res.status(status);
    res.set({
      'Content-Security-Policy': `default-src 'none'; style-src 'self'; img-src 'self' data:; form-action ${formAction}; base-uri 'none'; frame-ancestors 'none'`,
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
    });
    res.type('html').send(html);
  };
  const notice = (res: Response, status: number, heading: string, message: string, link?: { href: string; label: string }) =>
    render(res, status, 'notice', { title: heading, heading, message, link });

  const r = express.Router();
  r.use(['/checkout/:id', '/portal'], express.urlencoded({ extended: false, limit: '16kb' }));

  r.get('/assets/stripe-emulator.css', (_req, res) => {
    res.type('css').sendFile(path.join(viewsDir, 'stripe-emulator.css'));
  });

  /** Renders the page for a missing, complete or expired session and says so; false when the session is open. */
  const closedSessionPage = async (res: Response, session: Stripe.Checkout.Session | undefined, status: number): Promise<boolean> => {
    if (!session) {
      await notice(res, 404, 'Checkout not found', 'This checkout link is not valid. Start again from the donation page.');
      return true;
    }
    expireIfDue(store, session);
    if (session.status === 'complete') {
      await notice(res, status, 'Payment complete', 'This checkout has already been paid. Thank you!', { href: successRedirect(session), label: 'Continue' });
      return true;
    }
    if (session.status === 'expired') {
      const back = session.cancel_url ? { href: session.cancel_url, label: 'Start again' } : undefined;
      await notice(res, status, 'Checkout expired', 'This checkout link has expired. Nothing was charged.', back);
      return true;
    }
    return false;
  };

  const renderCheckout = (res: Response, session: Stripe.Checkout.Session, status: number, form: Partial<CheckoutForm>, errors: FormErrors = {}, formError?: string) => {
    const lineItems = store.sessionExtras.get(session.id)?.lineItems ?? [];
    const recurring = lineItems[0]?.price?.recurring;
    const emailLocked = Boolean(session.customer_email || (typeof session.customer === 'string' && store.customers.get(session.customer)?.email));
    const lockedEmail = session.customer_email ?? (typeof session.customer === 'string' ? store.customers.get(session.customer)?.email : null);
    const amount = formatAmount(session.amount_total ?? 0, session.currency ?? 'usd');
    const verbs: Record<string, string> = { donate: 'Donate', book: 'Book', subscribe: 'Subscribe', pay: 'Pay' };
    const verb = verbs[session.submit_type ?? ''] ?? (session.mode === 'subscription' ? 'Subscribe' : 'Pay');
    return render(
      res,
      status,
      'checkout',
      {
        title: `${verb} ${amount}`,
        merchant: ctx.accountName,
        heading: session.submit_type === 'donate' ? 'Your donation' : session.mode === 'subscription' ? 'Subscribe' : 'Pay',
        amount,
        per: recurring ? perLabel(recurring.interval, recurring.interval_count) : null,
        items: lineItems.map((li) => ({
          description: li.description,
          quantity: li.quantity,
          showQuantity: (li.quantity ?? 1) > 1,
          amount: formatAmount(li.amount_total, li.currency),
        })),
        sessionId: session.id,
        email: emailLocked ? lockedEmail : (form.email ?? ''),
        emailLocked,
        name: form.name ?? '',
        // Never echo a full card number back into the page.
        cardNumber: errors.card ? '' : (form.cardNumber ?? ''),
        exp: form.exp ?? '',
        cvc: '',
        errors,
        formError,
        buttonLabel: `${verb} ${amount}${recurring ? ` ${perLabel(recurring.interval, recurring.interval_count)}` : ''}`,
        cancelUrl: session.cancel_url,
        testCards: TEST_CARDS,
      },
      [session.success_url!, ...(session.cancel_url ? [session.cancel_url] : [])],
    );
  };

  r.get('/checkout/:id', async (req, res) => {
    const session = store.checkoutSessions.get(req.params.id);
    if (await closedSessionPage(res, session, 200)) return;
    await renderCheckout(res, session!, 200, { email: '' });
  });

  r.post('/checkout/:id', async (req, res) => {
    const session = store.checkoutSessions.get(req.params.id);
    if (await closedSessionPage(res, session, 409)) return;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
    const form: CheckoutForm = { email: field('email').trim(), name: field('name').trim(), cardNumber: field('card_number'), exp: field('exp'), cvc: field('cvc') };
    const errors = validateCheckoutForm(form, Boolean(session!.customer_email || session!.customer));
    if (Object.keys(errors).length > 0) {
      await renderCheckout(res, session!, 400, form, errors, 'Please correct the highlighted fields.');
      return;
    }
    try {
      const result = await pay(ctx, session!.id, { number: form.cardNumber, email: form.email, name: form.name });
      if (result.ok) {
        res.redirect(303, result.redirectUrl);
        return;
      }
      await renderCheckout(res, session!, 402, form, { card: result.message });
    } catch (err) {
      if (err instanceof StripeApiError && (await closedSessionPage(res, session, 409))) return;
      throw err;
    }
  });

  r.get('/portal/:id', async (req, res) => {
    const portal = store.portalSessions.get(req.params.id);
    if (!portal) {
      await notice(res, 404, 'Portal link not valid', 'This billing portal link is not valid. Ask for a new one from your account page.');
      return;
    }
    const customer = store.customers.get(portal.customer);
    const highlighted = portal.flow?.subscription_cancel?.subscription ?? portal.flow?.subscription_update?.subscription ?? null;
    const subscriptions = [...store.subscriptions.values()]
      .filter((s) => s.customer === portal.customer && s.status !== 'canceled' && s.status !== 'incomplete_expired')
      .map((s) => {
        const item = s.items.data[0]!;
        const recurring = item.price.recurring!;
        const product = store.products.get(item.price.product as string);
        const total = s.items.data.reduce((sum, it) => sum + (it.price.unit_amount ?? 0) * (it.quantity ?? 1), 0);
        return {
          id: s.id,
          description: s.description ?? product?.name ?? 'Recurring gift',
          amount: formatAmount(total, s.currency),
          per: perLabel(recurring.interval, recurring.interval_count),
          statusLabel: s.pause_collection ? 'paused' : s.status.replace(/_/g, ' '),
          cancelsOn: s.cancel_at_period_end ? formatDate(item.current_period_end) : null,
          nextPayment: formatDate(item.current_period_end),
          highlighted: s.id === highlighted,
        };
      });
    const flash = { canceled: 'Your gift will stop at the end of the current period.', renewed: 'Your gift will continue.' }[String(req.query.done)];
    await render(res, 200, 'portal', {
      title: 'Billing portal',
      merchant: ctx.accountName,
      sessionId: portal.id,
      customerLabel: customer?.email ?? customer?.name ?? null,
      subscriptions,
      flash,
      returnUrl: portal.return_url,
      returnHost: portal.return_url ? new URL(portal.return_url).host : null,
    });
  });

  /** The portal cancels at period end (Stripe's default portal setting) and can undo that. */
  const portalAction = (action: 'cancel' | 'renew') => async (req: Request, res: Response, next: NextFunction) => {
    const portal = store.portalSessions.get(req.params.id as string);
    const sub = store.subscriptions.get(req.params.subscriptionId as string);
    if (!portal || !sub || sub.customer !== portal.customer || sub.status === 'canceled') {
      await notice(res, 404, 'Subscription not found', 'This subscription cannot be changed from here.');
      return;
    }
    try {
      updateSubscription(store, sub.id, { cancel_at_period_end: action === 'cancel' ? 'true' : 'false' });
    } catch (err) {
      next(err);
      return;
    }
    const redirect = portal.flow?.after_completion?.redirect?.return_url;
    res.redirect(303, redirect ?? `/portal/${portal.id}?done=${action === 'cancel' ? 'canceled' : 'renewed'}`);
  };
  r.post('/portal/:id/subscriptions/:subscriptionId/cancel', portalAction('cancel'));
  r.post('/portal/:id/subscriptions/:subscriptionId/renew', portalAction('renew'));

  r.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    ctx.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'stripe emulator: page error');
    void notice(res, 500, 'Something went wrong', 'The Stripe emulator could not show this page. Nothing was charged.').catch(() => {
      if (!res.headersSent) res.status(500).type('text').send('Stripe emulator error');
    });
  });
  return r;
}

export function validateCheckoutForm(form: CheckoutForm, emailLocked: boolean): FormErrors {
  const errors: FormErrors = {};
  if (!emailLocked) {
    if (!form.email) errors.email = 'Your email address is incomplete.';
    else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(form.email)) errors.email = 'Your email address is invalid.';
  }
  const number = normaliseCardNumber(form.cardNumber);
  if (!number) errors.card = 'Your card number is incomplete.';
  else if (!/^\d+$/.test(number) || !luhnValid(number)) errors.card = 'Your card number is invalid.';

  const exp = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(form.exp);
  if (!exp) errors.exp = "Your card's expiration date is incomplete.";
  else {
    const month = Number(exp[1]);
    const year = exp[2]!.length === 2 ? 2000 + Number(exp[2]) : Number(exp[2]);
    const now = new Date();
    if (month < 1 || month > 12) errors.exp = "Your card's expiration month is invalid.";
    else if (year < now.getUTCFullYear() || (year === now.getUTCFullYear() && month < now.getUTCMonth() + 1)) {
      errors.exp = "Your card's expiration date is in the past.";
    }
  }
  if (!/^\d{3,4}$/.test(form.cvc.trim())) errors.cvc = "Your card's security code is incomplete.";
  return errors;
}

function perLabel(interval: string, count: number): string {
  return count === 1 ? `per ${interval}` : `every ${count} ${interval}s`;
}

function formatDate(unix: number): string {
  return new Intl.DateTimeFormat('en', { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(unix * 1000));
}
