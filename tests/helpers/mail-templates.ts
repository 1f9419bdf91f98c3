import path from 'node:path';
import { create } from 'express-handlebars';

/**
 * Renders a mail's views/emails/<name>.{html,text}.hbs as the catalogue does (HTML escaped, text
 * as typed), without the shared layout: enough to test what a renderer puts in its mail.
 */
export const mailTemplates = {
  html: create({ extname: '.hbs' }),
  text: create({ extname: '.hbs', compilerOptions: { noEscape: true } }),
  async render(name: string, model: Record<string, unknown>): Promise<{ html: string; text: string }> {
    const file = (kind: string) => path.resolve(__dirname, '../../views/emails', `${name}.${kind}.hbs`);
    const [html, text] = await Promise.all([this.html.render(file('html'), model), this.text.render(file('text'), model)]);
    return { html, text };
  },
};
