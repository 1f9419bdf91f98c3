/** Disputes (chargebacks). */
import type Stripe from 'stripe';
import { disputeReinstatement, disputeWithdrawal } from './balance';
import { invalidRequest } from './errors';
import { buildDispute } from './builders';
import { getOr404, type EmulatorStore } from './store';

/**
 * A chargeback opened and immediately settled, as Stripe's events tell it: `charge.dispute.created`,
 * `charge.dispute.funds_withdrawn` (the amount and the dispute fee leave the balance), `charge.dispute.closed`,
 * and for a won dispute `charge.dispute.funds_reinstated` (both come back).
 */
export function disputeCharge(store: EmulatorStore, chargeId: string, outcome: 'lost' | 'won'): Stripe.Dispute {
  if (outcome !== 'lost' && outcome !== 'won') throw invalidRequest('outcome must be lost or won', 'outcome');
  const charge = getOr404(store.charges, chargeId, 'charge');
  if (charge.disputed) throw invalidRequest(`Charge ${charge.id} is already disputed.`, 'charge');
  const amount = charge.amount - charge.amount_refunded;
  if (amount <= 0) throw invalidRequest(`Charge ${charge.id} has been fully refunded and cannot be disputed.`, 'charge');

  const dispute = buildDispute(charge, amount);
  store.disputes.set(dispute.id, dispute);
  charge.disputed = true;
  store.emit('charge.dispute.created', dispute);
  dispute.balance_transactions = [disputeWithdrawal(store, dispute)];
  store.emit('charge.dispute.funds_withdrawn', dispute, { balance_transactions: [] });
  const previous = { status: dispute.status };
  dispute.status = outcome;
  dispute.evidence_details.has_evidence = outcome === 'won';
  store.emit('charge.dispute.closed', dispute, previous);
  if (outcome === 'won') {
    const withdrawn = [...dispute.balance_transactions];
    dispute.balance_transactions = [...withdrawn, disputeReinstatement(store, dispute)];
    store.emit('charge.dispute.funds_reinstated', dispute, { balance_transactions: withdrawn });
  }
  return dispute;
}
