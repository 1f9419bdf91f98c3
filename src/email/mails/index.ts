import type { MailKind } from '../outbox';
import { renderCancelConfirmation } from './cancel-confirmation';
import { renderCardExpiringMail } from './card-expiring';
import { renderManageLink } from './manage-link';
import type { MailRenderer } from './mail';
import { renderPaymentFailed } from './payment-failed';
import { renderPaymentGaveUp } from './payment-gave-up';
import { renderReceipt } from './receipt';
import { renderRefundNotice } from './refund-notice';
import { renderSignInLink } from './sign-in-link';
import { renderStatementMail } from './statement';
import { renderVoidNotice } from './void-notice';

/**
 * The mail catalogue: one renderer per kind, each in its own module with its templates in
 * views/emails/<kind>.{html,text}.hbs. Every kind must be listed (the type says so).
 */
export const MAIL_RENDERERS: Record<MailKind, MailRenderer> = {
  receipt: renderReceipt,
  refund_notice: renderRefundNotice,
  void_notice: renderVoidNotice,
  cancel_confirmation: renderCancelConfirmation,
  payment_failed: renderPaymentFailed,
  payment_gave_up: renderPaymentGaveUp,
  sign_in_link: renderSignInLink,
  manage_link: renderManageLink,
  statement: renderStatementMail,
  card_expiring: renderCardExpiringMail,
};
