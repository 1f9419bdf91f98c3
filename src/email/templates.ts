import path from 'node:path';
import { create } from 'express-handlebars';

/**
 * The mail templates in views/emails/: `<name>.html.hbs` and `<name>.text.hbs` per mail, each
 * placed in `layout.html.hbs` / `layout.text.hbs` (the organisation's name, the footer). The HTML
 * side escapes every {{value}}; the plain-text side does not (text/plain has no markup to break),
 * so a donor's "<b>" reads as typed there. Models come formatted: templates only lay out.
 */
export class MailTemplates {
  private readonly html = create({ extname: '.hbs' });
  private readonly text = create({ extname: '.hbs', compilerOptions: { noEscape: true } });

  constructor(private readonly dir: string, private readonly orgName: string) {}

  async render(name: string, model: Record<string, unknown>): Promise<{ html: string; text: string }> {
    const [htmlBody, textBody] = await Promise.all([this.one(this.html, `${name}.html`, model), this.one(this.text, `${name}.text`, model)]);
    const [html, text] = await Promise.all([
      this.one(this.html, 'layout.html', { orgName: this.orgName, body: htmlBody }),
      this.one(this.text, 'layout.text', { orgName: this.orgName, body: textBody.trim() }),
    ]);
    return { html, text: tidyText(text) };
  }

  private one(engine: ReturnType<typeof create>, file: string, model: Record<string, unknown>): Promise<string> {
    // No partials: each mail is one template in one layout.
    return engine.render(path.join(this.dir, `${file}.hbs`), model, { cache: true, partials: {} });
  }
}

/** Plain text: no trailing spaces, at most one blank line in a row, one newline at the end. */
function tidyText(text: string): string {
  return `${text.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}
