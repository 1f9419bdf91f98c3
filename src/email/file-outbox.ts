import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** What the development outbox keeps of one mail besides its .eml, so a page can list and show it. */
export interface KeptMail {
  id: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  /** When it was written (ISO 8601). */
  writtenAt: string;
}

const ID = /^[0-9a-f-]{36}$/;

/**
 * Mail written to files instead of sent (development, SMTP_URL unset): `<outbox id>.eml`, the
 * message as an SMTP server would receive it (a mail client opens it), and `<outbox id>.json`
 * for the /dev/outbox page. Named by outbox id, so a mail written twice is one file pair.
 */
export class FileOutbox {
  constructor(readonly dir: string) {}

  async write(mail: KeptMail, eml: Buffer): Promise<void> {
    if (!ID.test(mail.id)) throw new Error('file outbox: not an outbox id');
    // Personal data: readable by this user only.
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // Written aside, then renamed: the page never reads half a file.
    await this.writeAtomically(`${mail.id}.eml`, eml);
    await this.writeAtomically(`${mail.id}.json`, JSON.stringify(mail));
  }

  /** The newest mails first, at most `limit`. */
  async list(limit = 100): Promise<KeptMail[]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json') && ID.test(n.slice(0, -5)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const withTimes = await Promise.all(names.map(async (name) => ({ name, mtime: (await stat(path.join(this.dir, name))).mtimeMs })));
    const newest = withTimes.sort((a, b) => b.mtime - a.mtime).slice(0, limit);
    return Promise.all(newest.map(async ({ name }) => JSON.parse(await readFile(path.join(this.dir, name), 'utf8')) as KeptMail));
  }

  /** One kept mail, or null (an id that is not one, or unknown). */
  async read(id: string): Promise<KeptMail | null> {
    if (!ID.test(id)) return null;
    try {
      return JSON.parse(await readFile(path.join(this.dir, `${id}.json`), 'utf8')) as KeptMail;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  private async writeAtomically(name: string, content: string | Buffer): Promise<void> {
    const target = path.join(this.dir, name);
    const aside = `${target}.${process.pid}.tmp`;
    await writeFile(aside, content, { mode: 0o600 });
    await rename(aside, target);
  }
}
