import type { Frequency } from '../campaigns/campaign.entity';

/**
 * What a gift is called wherever a donor reads about it (account page, receipt, statement), so
 * they all say it the same way: "One-off gift", "Monthly gift (first payment)", "Annual gift (renewal)".
 */
export function giftKind(frequency: Frequency | null, renewal: boolean): string {
  if (frequency === 'monthly' || frequency === 'annual') {
    return `${frequency === 'monthly' ? 'Monthly' : 'Annual'} gift (${renewal ? 'renewal' : 'first payment'})`;
  }
  return 'One-off gift';
}

export const OFFLINE_METHODS = ['cheque', 'transfer', 'cash', 'other'] as const;
export type OfflineMethod = (typeof OFFLINE_METHODS)[number];

/** How an offline gift was paid, as receipts, the account page and the console say it; null for 'other' (nothing worth saying). */
export function offlineMethodWords(method: string | null): string | null {
  const words: Record<string, string> = { cheque: 'Cheque', transfer: 'Bank transfer', cash: 'Cash' };
  return method ? words[method] ?? null : null;
}

/** The short form of a ledger entry id a donor can quote (receipts, statements): its first 8 hex digits, upper case. */
export const giftReference = (entryId: string): string => entryId.replace(/-/g, '').slice(0, 8).toUpperCase();
