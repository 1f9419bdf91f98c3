import type { DataSource } from 'typeorm';
import { asUuid } from '../../donations/checkout-intent.service';
import type { Logger } from '../../logger';
import { formatCharge, parseMajorAmount } from '../../money';
import { Stripe } from '../../payments/stripe/stripe-client';
import { NotFoundError } from '../../web/errors';
import { audit } from '../accounts/admin-accounts.service';
import { findGift, refundableAmount } from './gift-detail';

export type RefundOutcome =
  | { kind: 'invalid'; field: 'amount' | 'form'; message: string }
  | { kind: 'requested'; requestId: string; amount: number; currency: string }
  | { kind: 'refused'; message: string };

/**
 * Refunds asked of Stripe by an admin. The request is stored (and audited) before Stripe is called,
 * with an idempotency key made from the form's nonce: the same form sent twice finds its row and
 * makes at most one refund. The ledger does not move here: Stripe's refund events do that
 * (event-handlers.ts), exactly once per refund id; until then the request counts as pending.
 */
export class GiftRefunds {
  constructor(private readonly dataSource: DataSource, private readonly stripe: Stripe, private readonly logger: Logger) {}

  async request(input: { giftId: string; adminId: string; amount: unknown; requestKey: unknown }): Promise<RefundOutcome> {
    const requestKey = asUuid(input.requestKey);
    if (!requestKey) return { kind: 'invalid', field: 'form', message: 'This form is out of date. Please load the page again.' };
    const stored = await this.dataSource.transaction(async (tx): Promise<RefundOutcome | { kind: 'send'; requestId: string; amount: number; currency: string; paymentIntent: string }> => {
      const gift = await findGift(tx, input.giftId, { lock: true });
      if (!gift) throw new NotFoundError('We could not find that gift.');
      const [existing] = await tx.query(`SELECT id, gift_entry_id, amount, status FROM refund_requests WHERE request_key = $1`, [requestKey]);
      if (existing) {
        if (existing.gift_entry_id !== gift.id) return { kind: 'invalid', field: 'form', message: 'This form is out of date. Please load the page again.' };
        // A second submit of the same form: the same request; Stripe answers it from its idempotency key.
        return existing.status === 'failed'
          ? { kind: 'refused', message: 'This refund request failed already. Please load the page again.' }
          : { kind: 'send', requestId: existing.id, amount: Number(existing.amount), currency: gift.currency, paymentIntent: gift.stripe.paymentIntent! };
      }
      if (gift.source !== 'stripe' || !gift.stripe.paymentIntent) {
        return { kind: 'invalid', field: 'form', message: 'Only gifts paid through Stripe can be refunded. An offline gift is voided instead.' };
      }
      const { refundable } = await refundableAmount(tx, gift.id);
      const typed = typeof input.amount === 'string' ? input.amount.trim() : '';
      let amount = refundable;
      if (typed) {
        const parsed = parseMajorAmount(typed, gift.currency);
        if (!parsed.ok) return { kind: 'invalid', field: 'amount', message: parsed.reason === 'decimals' ? 'Too many decimals for this currency.' : 'Enter an amount like 12.50.' };
        amount = parsed.minor;
      }
      if (refundable <= 0) return { kind: 'invalid', field: 'amount', message: 'Nothing is left to refund on this gift.' };
      if (amount <= 0) return { kind: 'invalid', field: 'amount', message: 'Enter an amount above zero.' };
      if (amount > refundable) {
        return { kind: 'invalid', field: 'amount', message: `At most ${formatCharge(refundable, gift.currency)} can still be refunded.` };
      }
      const [row] = await tx.query(
        `INSERT INTO refund_requests (request_key, gift_entry_id, amount, currency, admin_id) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [requestKey, gift.id, amount, gift.currency, input.adminId],
      );
      await audit(tx, { adminId: input.adminId, action: 'gift.refund_request', subjectType: 'gift', subjectId: gift.id, after: { refundRequestId: row.id, amount, currency: gift.currency } });
      return { kind: 'send', requestId: row.id, amount, currency: gift.currency, paymentIntent: gift.stripe.paymentIntent };
    });
    if (stored.kind !== 'send') return stored;
    return this.send(stored);
  }

  private async send(req: { requestId: string; amount: number; currency: string; paymentIntent: string }): Promise<RefundOutcome> {
    try {
      const refund = await this.stripe.refunds.create(
        { payment_intent: req.paymentIntent, amount: req.amount, metadata: { kettle_refund_request_id: req.requestId } },
        { idempotencyKey: `kettle-refund-request-${req.requestId}` },
      );
      await this.dataSource.query(
        `UPDATE refund_requests SET status = 'sent', stripe_refund_id = $2, error = NULL, updated_at = now() WHERE id = $1`,
        [req.requestId, refund.id],
      );
      return { kind: 'requested', requestId: req.requestId, amount: req.amount, currency: req.currency };
    } catch (err) {
      const refused = err instanceof Stripe.errors.StripeError && err.statusCode !== undefined && err.statusCode < 500;
      this.logger.warn({ refundRequest: req.requestId, err: (err as Error).message }, refused ? 'refund refused by Stripe' : 'refund request: no answer from Stripe');
      if (refused) {
        const message = `Stripe refused the refund: ${(err as Error).message}`;
        await this.dataSource.query(`UPDATE refund_requests SET status = 'failed', error = $2, updated_at = now() WHERE id = $1 AND status = 'sending'`, [req.requestId, message]);
        return { kind: 'refused', message };
      }
      // No answer: Stripe may have made the refund. The request stays pending (its amount cannot be
      // refunded a second time) and is retried with the same idempotency key, which cannot refund twice.
      const message = 'Stripe could not be reached, so we do not know yet whether it made this refund. Press "Ask Stripe again" on the request below: it cannot refund twice.';
      await this.dataSource.query(`UPDATE refund_requests SET error = $2, updated_at = now() WHERE id = $1 AND status = 'sending'`, [req.requestId, message]);
      return { kind: 'refused', message };
    }
  }
}
