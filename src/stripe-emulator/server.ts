/** The emulator's Express app: Stripe's /v1 API, test controls under /_emulator, and the hosted pages. */
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type Stripe from 'stripe';
import { cancelSubscription } from './billing';
import { createCustomer, createPrice, createProduct, updateCustomer } from './catalog';
import { createCheckoutSession, expireCheckoutSession, expireIfDue } from './checkout';
import type { EmulatorContext } from './context';
import { controlsRouter } from './controls';
import { invalidRequest, noSuch, StripeApiError, unrecognizedUrl } from './errors';
import { apiErrorHandler, paramsOf, requireTestKey } from './http';
import { createdFilter, expand, newestFirst, paginate } from './lists';
import { pagesRouter } from './pages';
import { createMetadata, expandParam, isRecord, optArray, optBool, optEnum, optInt, optString, rejectUnknown, type Params } from './params';
import { createPortalSession } from './portal';
import { createRefund } from './refunds';
import { updateSubscription } from './subscription-update';
import { searchFilter, searchPage } from './search';
import { API_VERSION, getOr404, requestContext } from './store';
import { newId } from './util';

export function createEmulatorApp(ctx: EmulatorContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'extended'); // stripe-node sends nested params (`created[gte]=`, `expand[0]=`)
  app.set('json spaces', 2);

  app.use(noteWrites(ctx));
  app.use('/v1', apiRouter(ctx));
  app.use('/_emulator', controlsRouter(ctx));
  app.use(pagesRouter(ctx));
  return app;
}

/**
 * Any request but a read may change the state (an object without an event: a product, a Checkout Session, an
 * idempotent response): the store hears of it once it is answered, for persistence. Events say so by themselves.
 */
function noteWrites(ctx: EmulatorContext): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') res.on('close', () => ctx.store.changed());
    next();
  };
}

function withRequestContext(): RequestHandler {
  return (req, res, next) => {
    const requestId = newId('req_');
    res.set('Request-Id', requestId);
    res.set('Stripe-Version', req.get('stripe-version') ?? API_VERSION);
    requestContext.run({ requestId, idempotencyKey: req.method === 'POST' ? (req.get('idempotency-key') ?? null) : null }, next);
  };
}

/** Sorted-key JSON, so the same params in another order count as the same request. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isRecord(value)) return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  return JSON.stringify(value);
}

/**
 * Same key + same request: the stored response, byte for byte (no new objects or events).
 * Same key + different request: 400 idempotency_error. Validation errors are not stored, as on Stripe.
 */
function idempotency(ctx: EmulatorContext): RequestHandler {
  return (req, res, next) => {
    const key = req.get('idempotency-key');
    if (req.method !== 'POST' || !key) return next();
    if (key.length > 255) throw invalidRequest('Idempotency-Key must be at most 255 characters long.');
    const fingerprint = canonical([req.method, req.baseUrl + req.path, req.body ?? {}]);
    const stored = ctx.store.idempotency.get(key);
    if (stored) {
      if (stored.fingerprint !== fingerprint) {
        throw new StripeApiError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      }
      res.set('Idempotent-Replayed', 'true');
      res.status(stored.status).type('json').send(stored.body);
      return;
    }
    const sendJson = res.json.bind(res);
    res.json = (body: unknown) => {
      if (res.statusCode < 400 || res.statusCode === 402) {
        ctx.store.idempotency.set(key, { fingerprint, status: res.statusCode, body: JSON.stringify(body, null, 2) });
      }
      return sendJson(body);
    };
    next();
  };
}

const PAGE = ['ending_before', 'limit', 'starting_after'];

/**
 * The query parameters each GET takes (besides `expand`): [path, accepted, known to Stripe but not emulated].
 * Others get Stripe's 400 `parameter_unknown`; filters Stripe has but the emulator does not apply are refused by
 * name rather than silently ignored (a wrong answer would pass a test).
 */
const GET_PARAMS: [string, string[], string[]?][] = [
  ['/customers', [...PAGE, 'created', 'email'], ['test_clock']],
  ['/customers/search', ['limit', 'page', 'query']],
  ['/checkout/sessions', [...PAGE, 'created', 'customer', 'payment_intent', 'status', 'subscription'], ['customer_account', 'customer_details', 'payment_link']],
  ['/checkout/sessions/:id/line_items', PAGE],
  ['/payment_intents/:id', ['client_secret']],
  ['/charges', [...PAGE, 'created', 'customer', 'payment_intent'], ['transfer_group']],
  ['/refunds', [...PAGE, 'charge', 'created', 'payment_intent']],
  ['/disputes', [...PAGE, 'charge', 'created', 'payment_intent']],
  ['/subscriptions', [...PAGE, 'created', 'customer', 'price', 'status'], ['automatic_tax', 'collection_method', 'current_period_end', 'current_period_start', 'customer_account', 'plan', 'test_clock']],
  ['/invoices', [...PAGE, 'created', 'customer', 'status', 'subscription'], ['collection_method', 'customer_account', 'due_date']],
  ['/invoice_payments', [...PAGE, 'created', 'invoice', 'payment', 'status']],
  ['/balance_transactions', [...PAGE, 'created', 'currency', 'source', 'type'], ['payout']],
  ['/events', [...PAGE, 'created', 'delivery_success', 'type', 'types']],
  // Any other GET is a retrieve by id: only `expand`.
  ['/:resource/:id', []],
  ['/checkout/sessions/:id', []],
];
const getParamRules = GET_PARAMS.map(([path, accepted, notEmulated = []]) => ({
  pattern: new RegExp(`^${path.replace(/:[a-z]+/g, '[^/]+')}/?$`),
  accepted: ['expand', ...accepted],
  notEmulated,
}));

const checkQueryParams: RequestHandler = (req, _res, next) => {
  if (req.method !== 'GET') return next();
  const rule = getParamRules.find((r) => r.pattern.test(req.path));
  if (!rule) return next(); // an unknown URL: answered 404 further on
  const query = isRecord(req.query) ? req.query : {};
  const filter = Object.keys(query).find((key) => rule.notEmulated.includes(key));
  if (filter) throw invalidRequest(`The Kettle Stripe emulator does not support the \`${filter}\` parameter on GET /v1${req.path}.`, filter);
  rejectUnknown(query, rule.accepted);
  next();
};

function apiRouter(ctx: EmulatorContext): Router {
  const { store } = ctx;
  const r = express.Router();
  r.use(withRequestContext());
  r.use(requireTestKey);
  r.use(express.urlencoded({ extended: true, limit: '1mb', parameterLimit: 5000 }));
  r.use(idempotency(ctx));
  r.use(checkQueryParams);

  /** Answers with the object, applying `expand[]`. */
  const send = (req: Request, res: Response, object: object) => res.json(expand(store, object, expandParam(paramsOf(req))));
  const list = <T extends { id: string }>(req: Request, res: Response, items: T[], url: string, kind: string) =>
    send(req, res, paginate(items, paramsOf(req), url, kind));
  const filterBy = (params: Params, name: string) => {
    const value = optString(params, name);
    return (actual: unknown) => value === undefined || actual === value;
  };

  r.post('/products', (req, res) => send(req, res, createProduct(store, paramsOf(req))));
  r.get('/products/:id', (req, res) => send(req, res, getOr404(store.products, req.params.id, 'product')));
  r.post('/prices', (req, res) => send(req, res, createPrice(store, paramsOf(req))));
  r.get('/prices/:id', (req, res) => send(req, res, getOr404(store.prices, req.params.id, 'price')));

  r.post('/customers', (req, res) => send(req, res, createCustomer(store, paramsOf(req))));
  r.get('/customers', (req, res) => {
    const p = paramsOf(req);
    const byEmail = filterBy(p, 'email');
    const created = createdFilter(p);
    list(req, res, newestFirst(store.customers).filter((c) => byEmail(c.email) && created(c.created)), '/v1/customers', 'customer');
  });
  r.get('/customers/search', (req, res) => {
    const p = paramsOf(req);
    const query = optString(p, 'query');
    if (query === undefined) throw invalidRequest('Missing required param: query.', 'query', 'parameter_missing');
    const matches = searchFilter(query, ['email', 'name', 'phone']);
    send(req, res, searchPage(newestFirst(store.customers).filter((c) => matches(c as unknown as Record<string, unknown>)), p, '/v1/customers/search'));
  });
  r.get('/customers/:id', (req, res) => send(req, res, getOr404(store.customers, req.params.id, 'customer')));
  r.post('/customers/:id', (req, res) => send(req, res, updateCustomer(store, req.params.id, paramsOf(req))));
  r.get('/payment_methods/:id', (req, res) => send(req, res, getOr404(store.paymentMethods, req.params.id, 'PaymentMethod')));

  r.post('/checkout/sessions', (req, res) => send(req, res, createCheckoutSession(ctx, paramsOf(req))));
  r.get('/checkout/sessions', (req, res) => {
    const p = paramsOf(req);
    const [byPi, bySub, byCustomer, byStatus] = [filterBy(p, 'payment_intent'), filterBy(p, 'subscription'), filterBy(p, 'customer'), filterBy(p, 'status')];
    const created = createdFilter(p);
    const sessions = newestFirst(store.checkoutSessions).filter(
      (s) => byPi(s.payment_intent) && bySub(s.subscription) && byCustomer(s.customer) && byStatus(s.status) && created(s.created),
    );
    list(req, res, sessions, '/v1/checkout/sessions', 'checkout.session');
  });
  r.get('/checkout/sessions/:id', (req, res) => {
    const session = getOr404(store.checkoutSessions, req.params.id, 'checkout.session');
    expireIfDue(store, session);
    send(req, res, session);
  });
  r.get('/checkout/sessions/:id/line_items', (req, res) => {
    getOr404(store.checkoutSessions, req.params.id, 'checkout.session');
    list(req, res, [...store.sessionExtras.get(req.params.id)!.lineItems], `/v1/checkout/sessions/${req.params.id}/line_items`, 'line item');
  });
  r.post('/checkout/sessions/:id/expire', (req, res) => send(req, res, expireCheckoutSession(store, req.params.id)));

  r.get('/payment_intents/:id', (req, res) => send(req, res, getOr404(store.paymentIntents, req.params.id, 'payment_intent')));
  r.get('/charges', (req, res) => {
    const p = paramsOf(req);
    const [byPi, byCustomer] = [filterBy(p, 'payment_intent'), filterBy(p, 'customer')];
    const created = createdFilter(p);
    list(req, res, newestFirst(store.charges).filter((c) => byPi(c.payment_intent) && byCustomer(c.customer) && created(c.created)), '/v1/charges', 'charge');
  });
  r.get('/charges/:id', (req, res) => send(req, res, getOr404(store.charges, req.params.id, 'charge')));

  r.post('/refunds', (req, res) => {
    const p = paramsOf(req);
    rejectUnknown(p, ['amount', 'charge', 'currency', 'customer', 'expand', 'instructions_email', 'metadata', 'origin', 'payment_intent', 'reason', 'refund_application_fee', 'reverse_transfer']);
    const amount = optInt(p, 'amount');
    const refund = createRefund(store, {
      charge: optString(p, 'charge'),
      paymentIntent: optString(p, 'payment_intent'),
      amount,
      reason: optEnum(p, 'reason', ['duplicate', 'fraudulent', 'requested_by_customer'] as const),
      metadata: createMetadata(p),
    });
    send(req, res, refund);
  });
  r.get('/refunds', (req, res) => {
    const p = paramsOf(req);
    const [byCharge, byPi] = [filterBy(p, 'charge'), filterBy(p, 'payment_intent')];
    const created = createdFilter(p);
    list(req, res, newestFirst(store.refunds).filter((x) => byCharge(x.charge) && byPi(x.payment_intent) && created(x.created)), '/v1/refunds', 'refund');
  });
  r.get('/refunds/:id', (req, res) => send(req, res, getOr404(store.refunds, req.params.id, 'refund')));
  r.get('/disputes', (req, res) => {
    const p = paramsOf(req);
    const [byCharge, byPi] = [filterBy(p, 'charge'), filterBy(p, 'payment_intent')];
    const created = createdFilter(p);
    list(req, res, newestFirst(store.disputes).filter((d) => byCharge(d.charge) && byPi(d.payment_intent) && created(d.created)), '/v1/disputes', 'dispute');
  });
  r.get('/disputes/:id', (req, res) => send(req, res, getOr404(store.disputes, req.params.id, 'dispute')));

  r.get('/subscriptions', (req, res) => {
    const p = paramsOf(req);
    const byCustomer = filterBy(p, 'customer');
    const price = optString(p, 'price');
    const byPrice = (s: Stripe.Subscription) => price === undefined || s.items.data.some((item) => item.price.id === price);
    const status = optString(p, 'status');
    const byStatus = (s: Stripe.Subscription) => (status === 'all' ? true : status ? s.status === status : s.status !== 'canceled');
    const created = createdFilter(p);
    const subscriptions = newestFirst(store.subscriptions).filter((s) => byCustomer(s.customer) && byPrice(s) && byStatus(s) && created(s.created));
    list(req, res, subscriptions, '/v1/subscriptions', 'subscription');
  });
  r.get('/subscriptions/:id', (req, res) => send(req, res, getOr404(store.subscriptions, req.params.id, 'subscription')));
  r.post('/subscriptions/:id', (req, res) => send(req, res, updateSubscription(store, req.params.id, paramsOf(req))));
  r.delete('/subscriptions/:id', (req, res) => send(req, res, cancelSubscription(store, req.params.id, paramsOf(req))));

  r.get('/invoices', (req, res) => {
    const p = paramsOf(req);
    const [bySub, byCustomer, byStatus] = [filterBy(p, 'subscription'), filterBy(p, 'customer'), filterBy(p, 'status')];
    const created = createdFilter(p);
    const invoices = newestFirst(store.invoices).filter(
      (i) => bySub(i.parent?.subscription_details?.subscription) && byCustomer(i.customer) && byStatus(i.status) && created(i.created),
    );
    list(req, res, invoices, '/v1/invoices', 'invoice');
  });
  r.get('/invoices/:id', (req, res) => send(req, res, getOr404(store.invoices, req.params.id, 'invoice')));
  r.get('/invoice_payments', (req, res) => {
    const p = paramsOf(req);
    const [byInvoice, byStatus] = [filterBy(p, 'invoice'), filterBy(p, 'status')];
    const payment = isRecord(p.payment) ? p.payment : {};
    const byPi = filterBy(payment, 'payment_intent');
    const created = createdFilter(p);
    list(
      req,
      res,
      newestFirst(store.invoicePayments).filter((x) => byInvoice(x.invoice) && byStatus(x.status) && byPi(x.payment.payment_intent) && created(x.created)),
      '/v1/invoice_payments',
      'invoice_payment',
    );
  });
  r.get('/invoice_payments/:id', (req, res) => send(req, res, getOr404(store.invoicePayments, req.params.id, 'invoice_payment')));

  r.get('/balance_transactions', (req, res) => {
    const p = paramsOf(req);
    const [byCurrency, bySource, byType] = [filterBy(p, 'currency'), filterBy(p, 'source'), filterBy(p, 'type')];
    const created = createdFilter(p);
    const txns = newestFirst(store.balanceTransactions).filter((t) => byCurrency(t.currency) && bySource(t.source) && byType(t.type) && created(t.created));
    list(req, res, txns, '/v1/balance_transactions', 'balance transaction');
  });
  r.get('/balance_transactions/:id', (req, res) => send(req, res, getOr404(store.balanceTransactions, req.params.id, 'balance transaction')));

  r.post('/billing_portal/sessions', (req, res) => send(req, res, createPortalSession(ctx, paramsOf(req))));

  r.get('/events', (req, res) => {
    const p = paramsOf(req);
    const type = optString(p, 'type');
    const types = optArray(p, 'types')?.map(String);
    if (type && types) throw invalidRequest('You may only specify one of these parameters: type, types.', 'types');
    if (types && types.length > 20) throw invalidRequest('You may pass up to 20 types.', 'types');
    const patterns = types ?? (type ? [type] : null);
    const matches = (t: string) => !patterns || patterns.some((pat) => (pat.endsWith('.*') ? t.startsWith(pat.slice(0, -1)) : pat === '*' || pat === t));
    const deliverySuccess = optBool(p, 'delivery_success');
    const created = createdFilter(p);
    const events = [...store.events]
      .reverse()
      .filter((e) => matches(e.type) && created(e.created) && (deliverySuccess === undefined || store.delivered.get(e.id) === deliverySuccess));
    list(req, res, events, '/v1/events', 'event');
  });
  r.get('/events/:id', (req, res) => {
    const event = store.events.find((e) => e.id === req.params.id);
    if (!event) throw noSuch('event', req.params.id);
    send(req, res, event);
  });

  r.use((req) => {
    throw unrecognizedUrl(req.method, req.originalUrl.split('?')[0]!);
  });
  r.use(apiErrorHandler(ctx));
  return r;
}
