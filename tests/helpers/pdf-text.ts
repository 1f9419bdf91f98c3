import { inflateSync } from 'node:zlib';

/**
 * The text a PDF made by pdfkit draws, one line per text operation: each content stream is
 * inflated when compressed, and the hex strings of its TJ / Tj operators decoded (pdfkit writes
 * the built-in fonts' text as WinAnsi bytes; read as Latin-1 here, which is the same for letters).
 * Enough to check what a statement says without a PDF library.
 */
export function pdfText(pdf: Buffer): string {
  const raw = pdf.toString('latin1');
  const lines: string[] = [];
  for (const match of raw.matchAll(/<<([^]*?)>>\s*stream\r?\n/g)) {
    const length = /\/Length (\d+)/.exec(match[1]);
    if (!length) continue;
    const start = match.index! + match[0].length;
    const bytes = pdf.subarray(start, start + Number(length[1]));
    const content = (/\/FlateDecode/.test(match[1]) ? inflateSync(bytes) : bytes).toString('latin1');
    for (const op of content.matchAll(/\[([^\]]*)\]\s*TJ|<([0-9a-fA-F]*)>\s*Tj/g)) {
      const hex = op[1] !== undefined ? [...op[1].matchAll(/<([0-9a-fA-F]*)>/g)].map((h) => h[1]).join('') : op[2];
      lines.push(Buffer.from(hex, 'hex').toString('latin1'));
    }
  }
  return lines.join('\n');
}
