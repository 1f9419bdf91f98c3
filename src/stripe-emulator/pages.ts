/** The hosted test-checkout page (no scripts; every dynamic value escaped by Handlebars); the portal's are in portal-pages.ts. */
import path from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type Stripe from 'stripe';
import { readCardFields, TEST_CARDS, type CardFieldErrors, type CardFields } from './card-form';
import type { CardInput } from './cards';
import { expireIfDue, pay, successRedirect } from './checkout';
import type { EmulatorContext } from './context';
import { StripeApiError } from './errors';
import { formatAmount } from './money';
import { createPageRenderer, findViewsDir, perLabel } from './page-renderer';
import { portalPages } from './portal-pages';

interface CheckoutForm extends CardFields {
  email: string;
  name: string;
}
type FormErrors = CardFieldErrors & { email?: string };

export function pagesRouter(ctx: EmulatorContext): Router {
  const { store } = ctx;
  const viewsDir = findViewsDir();
  const pages = createPageRenderer(viewsDir);
  const { render, notice } = pages;

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
      [session.success_url, session.cancel_url],
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
    const { card, errors } = validateCheckoutForm(form, Boolean(session!.customer_email || session!.customer));
    if (!card) {
      await renderCheckout(res, session!, 400, form, errors, 'Please correct the highlighted fields.');
      return;
    }
    try {
      const result = await pay(ctx, session!.id, { ...card, email: form.email, name: form.name });
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

  r.use(portalPages(ctx, pages));

  r.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    ctx.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'stripe emulator: page error');
    void notice(res, 500, 'Something went wrong', 'The Stripe emulator could not show this page. Nothing was charged.').catch(() => {
      if (!res.headersSent) res.status(500).type('text').send('Stripe emulator error');
    });
  });
  return r;
}

export function validateCheckoutForm(form: CheckoutForm, emailLocked: boolean): { card?: CardInput; errors: FormErrors } {
  const { card, errors } = readCardFields(form, { cvcRequired: true });
  const emailError = emailLocked ? undefined : !form.email ? 'Your email address is incomplete.' : !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(form.email) ? 'Your email address is invalid.' : undefined;
  if (emailError) return { errors: { ...errors, email: emailError } };
  return { card, errors };
}
