import type { Frequency } from '../campaigns/campaign.entity';
import { formatCharge } from '../money';
import { longDate } from '../dates';
import { giftReference } from '../donations/gift-words';
import type { Statement } from './statements.service';

const FREQUENCY_LABELS: Record<Frequency, string> = { once: 'One-off', monthly: 'Monthly', annual: 'Annual' };
const GIFT_DATE = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' });

/**
 * A statement as people read it, money and dates formatted: the printable page, the PDF and the
 * statement mail all show this same model, so they cannot disagree.
 */
export interface StatementPage {
  title: string;
  year: number;
  issuedOn: string;
  organisation: { legalName: string; taxId: string | null; note: string };
  donor: { name: string | null; email: string };
  hasGifts: boolean;
  anyRefunds: boolean;
  gifts: {
    date: string;
    campaign: string;
    reference: string;
    referenceFull: string;
    frequency: string;
    amount: string;
    /** null when nothing of this gift was refunded. */
    refunded: string | null;
    /** The refunded amount is a void: the offline gift was cancelled in our records. */
    voided: boolean;
    net: string;
  }[];
  totals: { currency: string; giftCount: string; amount: string; refunded: string | null; net: string }[];
  pdfUrl: string;
}

export function statementPageModel(statement: Statement, now = new Date()): StatementPage {
  return {
    title: `Giving statement ${statement.year}`,
    year: statement.year,
    issuedOn: longDate(now),
    organisation: statement.organisation,
    donor: { name: statement.donor.name, email: statement.donor.email },
    hasGifts: statement.gifts.length > 0,
    anyRefunds: statement.gifts.some((g) => g.refunded !== 0),
    gifts: statement.gifts.map((g) => ({
      date: GIFT_DATE.format(g.occurredAt),
      campaign: g.campaignTitle,
      reference: giftReference(g.entryId),
      referenceFull: g.entryId,
      frequency: g.frequency ? FREQUENCY_LABELS[g.frequency] : '',
      amount: formatCharge(g.amount, g.currency),
      refunded: g.refunded !== 0 ? formatCharge(g.refunded, g.currency) : null,
      voided: g.voided,
      net: formatCharge(g.net, g.currency),
    })),
    totals: statement.totals.map((t) => ({
      currency: t.currency.toUpperCase(),
      giftCount: t.gifts === 1 ? '1 gift' : `${t.gifts} gifts`,
      amount: formatCharge(t.amount, t.currency),
      refunded: t.refunded !== 0 ? formatCharge(t.refunded, t.currency) : null,
      net: formatCharge(t.net, t.currency),
    })),
    pdfUrl: `/account/statements/${statement.year}.pdf`,
  };
}

/** The PDF's file name: no donor data in it, only the year. */
export const statementPdfFilename = (year: number): string => `giving-statement-${year}.pdf`;
