import type { Transporter } from 'nodemailer';
import type { MailConfig } from '../config';
import { FileOutbox } from './file-outbox';

export interface MailAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** One rendered mail on its way out. */
export interface OutgoingMail {
  /** The email_outbox row: its id makes the Message-ID, the same on every try. */
  outboxId: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  attachments?: MailAttachment[];
}

/**
 * One address and nothing else. nodemailer reads `to` as a list (commas, display names, groups,
 * comments, line breaks dropped), so a stored address such as "a@x.org, b@y.org" or one with a
 * line break would send to others. Kettle checks addresses where donors type them; Stripe's are
 * checked again here, where a mail leaves.
 */
export const isSinglePlainAddress = (address: string) => /^[^\s\x00-\x1f\x7f@,;:<>()[\]"\\]+@[^\s\x00-\x1f\x7f@,;:<>()[\]"\\]+$/.test(address);

export interface Mailer {
  /** Resolves once the SMTP server accepted the mail (or it was written to the file outbox). */
  send(mail: OutgoingMail): Promise<void>;
  /** Where mail goes instead of SMTP when SMTP_URL is unset; null when it is sent. */
  readonly fileOutbox: FileOutbox | null;
  close(): void;
}

/**
 * nodemailer is loaded with the first mail, not at boot: an idle instance (and the demo, until
 * someone gives) does not carry it.
 */
let nodemailer: Promise<typeof import('nodemailer')> | null = null;
const loadNodemailer = () => (nodemailer ??= import('nodemailer'));

/**
 * Sends through SMTP_URL, or, when it is unset (never in production: config refuses that), writes
 * every mail to the file outbox under DATA_DIR/outbox for the /dev/outbox page.
 */
export function createMailer(config: MailConfig, baseUrl: string): Mailer {
  // A stable Message-ID per outbox row: if a crash makes Kettle send a mail twice, receivers can tell.
  const messageIdDomain = new URL(baseUrl).hostname || 'localhost';
  const envelope = (mail: OutgoingMail) => ({
    from: config.from,
    to: mail.to,
    subject: mail.subject,
    html: mail.html,
    text: mail.text,
    attachments: mail.attachments,
    messageId: `<${mail.outboxId}@${messageIdDomain}>`,
    // Transactional mail: auto-responders (out of office) should not answer it.
    headers: { 'Auto-Submitted': 'auto-generated' },
  });

  if (config.smtpUrl) {
    const smtpUrl = config.smtpUrl;
    let transport: Promise<Transporter> | null = null;
    const smtp = () => (transport ??= loadNodemailer().then(({ createTransport }) => createTransport({
      url: smtpUrl,
      pool: true,
      maxConnections: 3,
      // Bounds on silence only: a server that stalls fails the try. The outbox bounds a whole send
      // (OutboxPolicy.sendDeadlineMs), as a server replying slowly but steadily never falls silent.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    })));
    return {
      fileOutbox: null,
      async send(mail) {
        await (await smtp()).sendMail(envelope(mail));
      },
      close: () => void transport?.then((t) => t.close()),
    };
  }

  const fileOutbox = new FileOutbox(config.outboxDir);
  let composer: Promise<Transporter> | null = null;
  const compose = () => (composer ??= loadNodemailer().then(({ createTransport }) => createTransport({ streamTransport: true, buffer: true, newline: 'unix' })));
  return {
    fileOutbox,
    async send(mail) {
      const info = await (await compose()).sendMail(envelope(mail));
      await fileOutbox.write(
        { id: mail.outboxId, to: mail.to, subject: mail.subject, html: mail.html, text: mail.text, writtenAt: new Date().toISOString() },
        info.message as Buffer,
      );
    },
    close: () => void composer?.then((c) => c.close()),
  };
}
