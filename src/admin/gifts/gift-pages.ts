import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Config } from '../../config';
import { offlineMethodWords } from '../../donations/gift-words';
import { formatCharge, minorToMajorString } from '../../money';
import { NotFoundError } from '../../web/errors';
import { consoleTime } from '../console-time';
import { findGift, giftAdjustments, giftEvents, giftRefundRequests, type RefundRequest } from './gift-detail';
import { filterQueryString, type CampaignChoice, type GiftFilterValues } from './gift-filters';
import { giftKind, netOf, refundedOf, sourceLabel, voidedOf, type GiftRow } from './gift-list';
import type { QueuedComment } from './comment-moderation';

const ADJUSTMENT_LABELS: Record<string, string> = { refund: 'Refund', dispute_lost: 'Lost dispute', refund_reversal: 'Refund reversed (failed)', void: 'Void' };

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** The campaign filter's choices: every campaign, and a slug typed into the address that none has (shown with its error). */
function campaignOptions(campaigns: CampaignChoice[], selected: string) {
  const known = campaigns.some((c) => c.slug === selected);
  return [
    { value: '', label: 'All campaigns', selected: selected === '' },
    ...campaigns.map((c) => ({ value: c.slug, label: c.title, selected: c.slug === selected })),
    ...(selected && !known ? [{ value: selected, label: selected, selected: true }] : []),
  ];
}

export function giftListModel(values: GiftFilterValues, campaigns: CampaignChoice[], rows: GiftRow[], next: string | null, errors: Record<string, string> = {}) {
  const query = filterQueryString(values);
  return {
    filters: values,
    errors,
    hasErrors: Object.keys(errors).length > 0,
    gifts: rows.map((r) => ({
      id: r.id,
      date: consoleTime(r.occurred_at),
      donorName: r.donor_name,
      donorEmail: r.donor_email,
      campaign: r.campaign_slug,
      kind: giftKind(r),
      source: sourceLabel(r.source),
      amount: formatCharge(Number(r.amount), r.currency),
      refunded: refundedOf(r) ? formatCharge(refundedOf(r), r.currency) : '',
      voided: voidedOf(r) !== 0,
      net: formatCharge(netOf(r), r.currency),
    })),
    nextHref: next ? `/admin/gifts?${query ? `${query}&` : ''}after=${encodeURIComponent(next)}` : null,
    exportHref: `/admin/exports/gifts.csv${query ? `?${query}` : ''}`,
    options: {
      campaign: campaignOptions(campaigns, values.campaign),
      fyStart: MONTHS.map((label, i) => ({ value: String(i + 1), label, selected: (values.fy_start || '1') === String(i + 1) })),
      frequency: [['', 'Any'], ['once', 'One-off'], ['recurring', 'Recurring']].map(([value, label]) => ({ value, label, selected: values.frequency === value })),
      source: [['', 'Any'], ['online', 'Online'], ['offline', 'Offline']].map(([value, label]) => ({ value, label, selected: values.source === value })),
      refunded: [['', 'Any'], ['yes', 'Refunded or disputed'], ['no', 'Not refunded']].map(([value, label]) => ({ value, label, selected: values.refunded === value })),
    },
  };
}

/** Stripe dashboard pages for a live account; a test account's ids stay plain text (they belong to the emulator or test mode). */
function stripeLink(config: Config, path: string, id: string | null) {
  if (!id) return null;
  const live = /^(sk|rk)_live_/.test(config.stripe.secretKey ?? '');
  return { id, href: live ? `https://dashboard.stripe.com/${path}/${id}` : null };
}

function requestStatus(r: RefundRequest) {
  // Failed wins over confirmed: a refund Stripe confirmed and then could not pay out was given back (a reversal).
  if (r.status === 'failed') return `Failed: ${r.error ?? 'unknown error'}`;
  if (r.confirmed) return 'Confirmed by Stripe';
  if (r.status === 'sending' && r.error) return 'No answer from Stripe yet: ask again (it cannot refund twice)';
  return 'Requested — waiting for Stripe to confirm';
}

export interface GiftPageForm {
  amount?: string;
  errors?: { amount?: string; form?: string };
  notice?: string | null;
  /** A refund request made just before (the page after the redirect says what became of it). */
  requestedRefundId?: unknown;
}

/** Everything the gift page shows; unknown or malformed id: 404. */
export async function giftPageModel(dataSource: DataSource, config: Config, idText: string, form: GiftPageForm = {}) {
  const gift = await findGift(dataSource.manager, idText);
  if (!gift) throw new NotFoundError('We could not find that gift.');
  const [adjustments, requests] = await Promise.all([giftAdjustments(dataSource.manager, gift.id), giftRefundRequests(dataSource.manager, gift.id)]);
  // As refundableAmount (gift-detail.ts) reckons them, from the rows just read: the gift and every
  // adjustment summed, less refunds asked of Stripe that its events have not confirmed yet.
  const net = adjustments.reduce((total, a) => total + a.amount, gift.amount);
  const pending = requests.filter((r) => (r.status === 'sending' || r.status === 'sent') && !r.confirmed).reduce((total, r) => total + r.amount, 0);
  const amounts = { net, pending, refundable: Math.max(0, net - pending) };
  const events = await giftEvents(dataSource, gift, adjustments, requests);
  const money = (minor: number) => formatCharge(minor, gift.currency);
  const sum = (kinds: string[]) => adjustments.filter((a) => kinds.includes(a.kind)).reduce((total, a) => total - a.amount, 0);
  const wall = gift.wall;
  return {
    title: `Gift ${gift.id.slice(0, 8)}`,
    gift: {
      id: gift.id,
      date: consoleTime(gift.occurredAt),
      kind: giftKind(gift),
      source: sourceLabel(gift.source),
      // The void form (POST /admin/gifts/:id/void, offline-gifts.routes.ts) while the gift still counts.
      voidable: gift.source === 'offline' && !adjustments.some((a) => a.kind === 'void'),
      offline: gift.offline && { ...gift.offline, method: offlineMethodWords(gift.offline.method) ?? 'Other' },
      campaign: gift.campaign,
      donor: gift.donor,
    },
    amounts: {
      gross: money(gift.amount),
      feeCover: money(gift.feeCoverAmount),
      refunds: money(sum(['refund', 'refund_reversal'])),
      disputes: money(sum(['dispute_lost'])),
      voided: adjustments.some((a) => a.kind === 'void') ? money(sum(['void'])) : null,
      net: money(amounts.net),
      pending: amounts.pending ? money(amounts.pending) : null,
      refundable: money(amounts.refundable),
    },
    stripeIds: ([
      ['Checkout Session', stripeLink(config, 'checkout/sessions', gift.stripe.checkoutSession)],
      ['Payment', stripeLink(config, 'payments', gift.stripe.paymentIntent)],
      ['Invoice', stripeLink(config, 'invoices', gift.stripe.invoice)],
      ['Subscription', stripeLink(config, 'subscriptions', gift.stripe.subscription)],
      ...adjustments.filter((a) => a.kind === 'refund').map((a) => ['Refund', stripeLink(config, 'refunds', a.stripeRefundId)]),
    ] as [string, ReturnType<typeof stripeLink>][]).flatMap(([label, link]) => (link ? [{ label, ...link }] : [])),
    adjustments: adjustments.map((a) => ({
      kind: ADJUSTMENT_LABELS[a.kind] ?? a.kind, amount: money(a.amount), date: consoleTime(a.occurredAt), stripeId: a.stripeRefundId ?? a.stripeDisputeId,
    })),
    refundRequests: requests.map((r) => ({
      amount: money(r.amount), date: consoleTime(r.createdAt), by: r.by, status: requestStatus(r), stripeRefundId: r.stripeRefundId,
      retryKey: r.status === 'sending' && r.error ? r.requestKey : null,
    })),
    events: events.map((e) => ({ ...e, date: consoleTime(e.stripeCreatedAt), note: e.lastError ?? e.outcomeReason })),
    refundForm: gift.source === 'stripe' && gift.stripe.paymentIntent && amounts.refundable > 0
      // The amount is filled in, so the admin sees what one press refunds (empty would refund all that is left).
      ? { requestKey: randomUUID(), amount: form.amount ?? minorToMajorString(amounts.refundable, gift.currency, true), errors: form.errors ?? {}, maximum: money(amounts.refundable) }
      : null,
    formError: form.errors?.form ?? null,
    notice: form.notice ?? refundNotice(requests, form.requestedRefundId, money),
    wall: wall && {
      name: wall.name,
      comment: wall.comment,
      anonymous: wall.anonymous,
      hidden: wall.hiddenAt !== null,
      held: gift.campaign.holdComments && wall.approvedAt === null && wall.comment !== null,
      approved: wall.approvedAt !== null,
    },
  };
}

function refundNotice(requests: RefundRequest[], requestId: unknown, money: (minor: number) => string): string | null {
  const request = requests.find((r) => r.id === requestId);
  if (!request || request.status === 'failed') return null;
  return request.confirmed
    ? `Refund of ${money(request.amount)} confirmed by Stripe; the totals include it.`
    : `Refund of ${money(request.amount)} requested; the total moves when Stripe confirms it.`;
}

export function moderationModel(queue: { awaiting: QueuedComment[]; recent: QueuedComment[] }) {
  const row = (c: QueuedComment) => ({ ...c, date: consoleTime(c.at) });
  return { awaiting: queue.awaiting.map(row), recent: queue.recent.map(row) };
}
