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
