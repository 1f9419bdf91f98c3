import type { EntityManager } from 'typeorm';

export interface TotalsDelta {
  raised: number;
  gifts: number;
  donors: number;
}

/**
 * Moves of the kept totals gathered inside one transaction and written once per campaign at its
 * end, so a batch of gifts for one campaign takes the hot totals row once, just before commit,
 * instead of once per gift. The moves are sums, so their order does not matter; every row a
 * move depends on (a gift's net, a donor's net) is locked where it is read.
 *
 * Whoever creates one must flush() it in the same transaction before committing: kept totals
 * must equal a recomputation from the ledger at every commit.
 */
export class TotalsAccumulator {
  private readonly deltas = new Map<string, TotalsDelta>();

  add(campaignId: string, delta: TotalsDelta): void {
    const current = this.deltas.get(campaignId) ?? { raised: 0, gifts: 0, donors: 0 };
    current.raised += delta.raised;
    current.gifts += delta.gifts;
    current.donors += delta.donors;
    this.deltas.set(campaignId, current);
  }

  /** Takes over another accumulator's moves (an event's, once its savepoint was released). */
  merge(other: TotalsAccumulator): void {
    for (const [campaignId, delta] of other.deltas) this.add(campaignId, delta);
  }

  /**
   * Writes the moves, one UPDATE per campaign, in campaign id order so two transactions
   * touching the same campaigns take their rows in the same order and cannot deadlock on them.
   */
  async flush(tx: EntityManager): Promise<void> {
    const campaignIds = [...this.deltas.keys()].sort();
    for (const campaignId of campaignIds) {
      const d = this.deltas.get(campaignId)!;
      if (d.raised === 0 && d.gifts === 0 && d.donors === 0) continue;
      // TypeORM answers an UPDATE with [rows, affected].
      const move = async (): Promise<number> => (await tx.query(
        `UPDATE campaign_totals
            SET raised_amount = raised_amount + $2, gift_count = gift_count + $3, donor_count = donor_count + $4, updated_at = now()
          WHERE campaign_id = $1`,
        [campaignId, d.raised, d.gifts, d.donors],
      ))[1];
      if (await move()) continue;
      // createCampaign makes the row; this covers a campaign inserted any other way.
      await tx.query(`INSERT INTO campaign_totals (campaign_id) VALUES ($1) ON CONFLICT DO NOTHING`, [campaignId]);
      await move();
    }
    this.deltas.clear();
  }
}
