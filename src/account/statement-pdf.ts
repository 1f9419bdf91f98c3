import type { StatementPage } from './statement-page';

/**
 * Characters PDF's built-in Helvetica can show (WinAnsiEncoding): printable Latin-1, and the 27
 * characters Windows-1252 puts in 0x80–0x9F (€, curly quotes, dashes, Œ, Š…). pdfkit writes any
 * other character as garbage bytes, so text is made to fit first (pdfSafeText).
 */
const WIN_ANSI_EXTRAS = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');
const fitsWinAnsi = (char: string): boolean => {
  const code = char.codePointAt(0)!;
  return (code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff) || WIN_ANSI_EXTRAS.has(char);
};
const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });
// Latin letters whose stroke is not a separate accent, so NFKD leaves them whole.
const STROKED_LETTERS: Record<string, string> = { Ł: 'L', ł: 'l', Đ: 'D', đ: 'd', Ħ: 'H', ħ: 'h', ı: 'i', Ŧ: 'T', ŧ: 't' };

/**
 * Text as the built-in font can draw it. Names and titles may be in any script: a letter with an
 * accent Helvetica lacks loses the accent (ś becomes s, ł becomes l), anything else it cannot draw
 * (Chinese, emoji, one character however many code points) becomes "?", and controls become
 * spaces. The HTML statement shows the same text in full. Embedding fonts for every script would
 * add tens of megabytes (CJK alone is 15+), for a copy the donor can also print from the page.
 */
export function pdfSafeText(text: string): string {
  let out = '';
  for (const { segment } of graphemes.segment(text)) {
    if (/^[\p{Cc}\p{Zl}\p{Zp}]+$/u.test(segment)) out += ' ';
    else if ([...segment].every(fitsWinAnsi)) out += segment;
    else {
      const base = (STROKED_LETTERS[segment] ?? segment).normalize('NFKD').replace(/\p{M}/gu, '');
      out += base && [...base].every(fitsWinAnsi) ? base : '?';
    }
  }
  return out;
}

export interface PdfOptions {
  /** false writes the page's text uncompressed (tests read it back); true in production. */
  compress?: boolean;
}

const MARGIN = 50;
const GREY = '#555555';
const LINE = '#bbbbbb';

/**
 * The statement as a PDF (US Letter), with the same content as the printable page. pdfkit is
 * loaded on the first statement, not at boot: its fonts and tables are a quarter of an idle
 * server's memory, for a page donors open once a year.
 */
export async function renderStatementPdf(page: StatementPage, opts: PdfOptions = {}): Promise<Buffer> {
  const { default: PDFDocument } = await import('pdfkit');
  const doc = new PDFDocument({
    size: 'LETTER',
    margin: MARGIN,
    compress: opts.compress ?? true,
    info: { Title: `Giving statement ${page.year}`, Author: pdfSafeText(page.organisation.legalName), Subject: 'Giving statement' },
  });
  const done = collect(doc);
  const t = pdfSafeText;
  const width = doc.page.width - 2 * MARGIN;

  doc.font('Helvetica-Bold').fontSize(12).text(t(page.organisation.legalName));
  doc.font('Helvetica-Bold').fontSize(20).text(`Giving statement ${page.year}`).moveDown(0.5);
  const fact = (label: string, value: string) =>
    doc.font('Helvetica').fontSize(10).fillColor(GREY).text(`${label}  `, { continued: true }).fillColor('black').text(t(value));
  if (page.organisation.taxId) fact('Tax ID', page.organisation.taxId);
  fact('For', page.donor.name ? `${page.donor.name} · ${page.donor.email}` : page.donor.email);
  fact('Period', `January 1 to December 31, ${page.year} (UTC)`);
  fact('Issued', page.issuedOn);
  doc.moveDown(1.2);

  if (page.hasGifts) {
    const header = ['Date', 'Campaign', 'Reference', 'Frequency', 'Amount', ...(page.anyRefunds ? ['Refunded'] : []), 'Net'];
    const numeric = new Set(header.slice(4).map((_, i) => i + 4));
    doc.font('Helvetica').fontSize(9);
    doc.table({
      columnStyles: (column) => ({
        width: column === 1 ? '*' : column === 0 ? 70 : column === 2 ? 78 : column === 3 ? 56 : 64,
        align: numeric.has(column) ? { x: 'right', y: 'top' } : { x: 'left', y: 'top' },
      }),
      rowStyles: (row) => (row === 0 ? { border: [0, 0, 1, 0], borderColor: 'black' } : { border: [0, 0, 0.5, 0], borderColor: LINE }),
      data: [
        header.map((text) => ({ text, font: { src: 'Helvetica-Bold' }, type: 'TH' as const })),
        ...page.gifts.map((g) => [
          // The full reference (a ledger entry id) in two short lines under its short form.
          g.date, t(g.campaign), { text: `${g.reference}\n${g.referenceFull.slice(0, 19)}\n${g.referenceFull.slice(19)}`, font: { size: 7 } },
          g.frequency, g.amount,
          ...(page.anyRefunds ? [g.refunded ? `-${g.refunded}${g.voided ? ' voided' : ''}` : ''] : []),
          g.net,
        ]),
      ],
    });
    doc.moveDown(1.5);

    doc.x = MARGIN;
    doc.font('Helvetica-Bold').fontSize(12).text(`Total for ${page.year}`).moveDown(0.3);
    for (const total of page.totals) {
      const y = doc.y;
      doc.font('Helvetica').fontSize(10)
        .text(`${total.currency} · ${total.giftCount}${total.refunded ? ` · ${total.amount} given, -${total.refunded} refunded` : ''}`, MARGIN, y, { width: width - 120 });
      doc.font('Helvetica-Bold').fontSize(12).text(total.net, MARGIN + width - 120, y, { width: 120, align: 'right' });
      doc.x = MARGIN;
      doc.moveDown(0.4);
    }
    if (page.anyRefunds) {
      doc.moveDown(0.3).font('Helvetica').fontSize(9).fillColor(GREY)
        .text('Refunds, reversed charges and voided gifts are deducted from the gift they belong to, whenever they happened.', { width })
        .fillColor('black');
    }
  } else {
    doc.font('Helvetica').fontSize(12).text(`We have no gifts from you in ${page.year}.`);
  }

  doc.moveDown(1.5);
  if (page.organisation.note) doc.font('Helvetica').fontSize(10).text(t(page.organisation.note), { width });
  doc.end();
  return done;
}

function collect(doc: PDFKit.PDFDocument): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
}
