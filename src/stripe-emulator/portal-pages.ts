/**
 * The hosted billing portal: its homepage (the customer's subscriptions, cancel at period end and undo, the card on
 * file) and the payment method form, which a `payment_method_update` flow session opens on directly.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type Stripe from 'stripe';
import { readCardFields, TEST_CARDS, type CardFieldErrors, type CardFields } from './card-form';
import { checkCardToSave } from './cards';
import type { EmulatorContext } from './context';
import { formatAmount } from './money';
import { formatDate, perLabel, type PageRenderer } from './page-renderer';
import { customerSubscriptions, replaceDefaultCard } from './portal';
import { updateSubscription } from './subscription-update';

const CARD_UPDATED = 'Your payment method was updated.';
/** `?done=` after a form: what the homepage says. */
const FLASHES = new Map([
  ['canceled', 'Your gift will stop at the end of the current period.'],
  ['renewed', 'Your gift will continue.'],
  ['payment_method', CARD_UPDATED],
]);

export function portalPages(ctx: EmulatorContext, { render, notice }: PageRenderer): Router {
  const { store } = ctx;
  const r = express.Router();

  const sessionOf = async (req: Request, res: Response): Promise<Stripe.BillingPortal.Session | undefined> => {
    const portal = store.portalSessions.get(req.params.id as string);
    if (!portal) await notice(res, 404, 'Portal link not valid', 'This billing portal link is not valid. Ask for a new one from your account page.');
    return portal;
  };
  /** Where the portal's forms can lead: back to the integration, or where the flow redirects after completion. */
  const exits = (portal: Stripe.BillingPortal.Session) => [portal.return_url, portal.flow?.after_completion?.redirect?.return_url];

  const renderHome = (res: Response, portal: Stripe.BillingPortal.Session, flash?: string) => {
    const customer = store.customers.get(portal.customer);
    const highlighted = portal.flow?.subscription_cancel?.subscription ?? portal.flow?.subscription_update?.subscription ?? null;
    const subscriptions = customerSubscriptions(store, portal.customer).map((s) => {
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
    const defaultCard = (customer?.invoice_settings.default_payment_method ?? customerSubscriptions(store, portal.customer)[0]?.default_payment_method ?? null) as string | null;
    const card = defaultCard ? store.paymentMethods.get(defaultCard)?.card : undefined;
    return render(
      res,
      200,
      'portal',
      {
        title: 'Billing portal',
        merchant: ctx.accountName,
        sessionId: portal.id,
        customerLabel: customer?.email ?? customer?.name ?? null,
        subscriptions,
        card: card && { brand: card.display_brand ?? card.brand, last4: card.last4, expires: `${String(card.exp_month).padStart(2, '0')}/${card.exp_year}` },
        flash,
        returnUrl: portal.return_url,
        returnHost: portal.return_url ? new URL(portal.return_url).host : null,
      },
      exits(portal),
    );
  };

  const renderCardForm = (res: Response, portal: Stripe.BillingPortal.Session, status: number, form: Partial<CardFields>, errors: CardFieldErrors = {}) => {
    const inFlow = portal.flow?.type === 'payment_method_update';
    const back = inFlow ? portal.return_url : `/portal/${portal.id}`;
    return render(
      res,
      status,
      'portal-payment-method',
      {
        title: 'Update payment method',
        merchant: ctx.accountName,
        sessionId: portal.id,
        // Never echo a full card number back into the page.
        cardNumber: errors.card ? '' : (form.cardNumber ?? ''),
        exp: form.exp ?? '',
        errors,
        formError: Object.keys(errors).length > 0 ? 'Your card was not saved.' : undefined,
        back,
        backLabel: inFlow ? 'Cancel' : 'Back to your gifts',
        testCards: TEST_CARDS,
      },
      exits(portal),
    );
  };

  r.get('/portal/:id', async (req, res) => {
    const portal = await sessionOf(req, res);
    if (!portal) return;
    const done = String(req.query.done ?? '');
    if (done === 'payment_method' && portal.flow?.after_completion.type === 'hosted_confirmation') {
      const back = portal.return_url ? { href: portal.return_url, label: `Return to ${new URL(portal.return_url).host}` } : undefined;
      await notice(res, 200, 'Payment method updated', portal.flow.after_completion.hosted_confirmation?.custom_message ?? CARD_UPDATED, back);
      return;
    }
    if (portal.flow?.type === 'payment_method_update' && !done) {
      await renderCardForm(res, portal, 200, {});
      return;
    }
    await renderHome(res, portal, FLASHES.get(done));
  });

  r.get('/portal/:id/payment-method', async (req, res) => {
    const portal = await sessionOf(req, res);
    if (portal) await renderCardForm(res, portal, 200, {});
  });

  /** Saves the card as the default for the customer and all their subscriptions; declining cards are refused (not 0341). */
  r.post('/portal/:id/payment-method', async (req, res) => {
    const portal = await sessionOf(req, res);
    if (!portal) return;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
    const form: CardFields = { cardNumber: field('card_number'), exp: field('exp'), cvc: field('cvc') };
    const { card, errors } = readCardFields(form, { cvcRequired: false });
    if (!card) {
      await renderCardForm(res, portal, 400, form, errors);
      return;
    }
    const checked = checkCardToSave(card);
    if (!checked.ok) {
      await renderCardForm(res, portal, 402, form, { card: checked.decline.message });
      return;
    }
    replaceDefaultCard(store, portal, checked.card);
    res.redirect(303, portal.flow?.after_completion.redirect?.return_url ?? `/portal/${portal.id}?done=payment_method`);
  });

  /** The portal cancels at period end (Stripe's default portal setting) and can undo that. */
  const subscriptionAction = (action: 'cancel' | 'renew') => async (req: Request, res: Response, next: NextFunction) => {
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
  r.post('/portal/:id/subscriptions/:subscriptionId/cancel', subscriptionAction('cancel'));
  r.post('/portal/:id/subscriptions/:subscriptionId/renew', subscriptionAction('renew'));
  return r;
}
