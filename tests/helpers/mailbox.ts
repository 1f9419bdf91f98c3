import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** One message as the test SMTP server received and parsed it. */
export interface ReceivedMail {
  /** Envelope recipients (RCPT TO), lower case. */
  to: string[];
  /** Envelope sender (MAIL FROM). */
  from: string;
  subject: string;
  text: string;
  /** The HTML part as sent (escaped as the mail client would receive it). */
  html: string;
  messageId: string;
  headers: Map<string, unknown>;
  attachments: { filename?: string; contentType: string; content: Buffer }[];
  /** Every http(s) URL in the plain-text part, in order. */
  links: string[];
}

export interface TestMailbox {
  /** `smtp://127.0.0.1:<port>`: what SMTP_URL is set to. The port stays the same across stop()/start(). */
  readonly url: string;
  /** Every message received so far, oldest first. */
  readonly received: readonly ReceivedMail[];
  /** The first message (already received or still to come) that matches; rejects after timeoutMs (default 10 s). */
  waitFor(predicate: (mail: ReceivedMail) => boolean, opts?: { timeoutMs?: number }): Promise<ReceivedMail>;
  /** Messages received so far that match. */
  matching(predicate: (mail: ReceivedMail) => boolean): ReceivedMail[];
  /** From now on, RCPT TO this address is refused with 550 (no such mailbox), as a real server refuses an unknown user. */
  refuseRecipient(email: string): void;
  /**
   * From now on, messages are read but not answered, as a server that never finishes scanning
   * them: none is accepted (nor in `received`) until release(), which accepts them all.
   */
  holdAcceptance(): { release(): void };
  /** An outage: the server closes its connections and stops listening, so connections are refused. */
  stop(): Promise<void>;
  /** Back on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A predicate for waitFor: the message to this address, optionally with a subject like this. */
export const addressedTo = (email: string, subject?: RegExp) => (mail: ReceivedMail) =>
  mail.to.includes(email.toLowerCase()) && (!subject || subject.test(mail.subject));

export interface MailboxOptions {
  /** Accept each message (the "250 OK" after its data) only this long after reading it: a relay that scans attachments. */
  acceptDelayMs?: number;
}

/**
 * A real SMTP server on 127.0.0.1 (smtp-server: no TLS, no login needed) that parses every
 * message with mailparser and keeps it, for tests that receive Kettle's mail as a person would.
 * waitFor resolves on arrival: no polling, no sleeps.
 */
export async function startMailbox(opts: MailboxOptions = {}): Promise<TestMailbox> {
  const received: ReceivedMail[] = [];
  const waiters = new Set<{ predicate: (mail: ReceivedMail) => boolean; resolve: (mail: ReceivedMail) => void }>();
  const refused = new Set<string>();
  // Resolves when held messages may be accepted; null while nothing is held.
  let hold: { released: Promise<void>; release: () => void } | null = null;
  const accepting = async () => {
    if (opts.acceptDelayMs) await new Promise((resolve) => setTimeout(resolve, opts.acceptDelayMs));
    await hold?.released;
  };
  let server: SMTPServer | null = null;
  let port = 0;

  const listen = async () => {
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      // stop() is an outage, not a graceful shutdown: connections are dropped at once.
      closeTimeout: 1,
      onRcptTo(address, _session, callback) {
        if (!refused.has(address.address.toLowerCase())) return callback();
        const err = Object.assign(new Error(`<${address.address}>: Recipient address rejected: no such mailbox`), { responseCode: 550 });
        callback(err);
      },
      async onData(stream, session, callback) {
        try {
          const parsed = await simpleParser(stream);
          const text = parsed.text ?? '';
          const mail: ReceivedMail = {
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            subject: parsed.subject ?? '',
            text,
            html: parsed.html || '',
            messageId: parsed.messageId ?? '',
            headers: parsed.headers as Map<string, unknown>,
            attachments: parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
            links: text.match(/https?:\/\/[^\s<>"]+/g) ?? [],
          };
          await accepting();
          received.push(mail);
          for (const waiter of waiters) {
            if (waiter.predicate(mail)) {
              waiters.delete(waiter);
              waiter.resolve(mail);
            }
          }
          callback();
        } catch (err) {
          callback(err as Error);
        }
      },
    });
    await new Promise<void>((resolve, reject) => {
      smtp.server.once('error', reject);
      smtp.listen(port, '127.0.0.1', () => resolve());
    });
    port = (smtp.server.address() as AddressInfo).port;
    server = smtp;
  };
  const shut = async () => {
    const smtp = server;
    server = null;
    if (smtp) await new Promise<void>((resolve) => smtp.close(() => resolve()));
  };

  await listen();
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    matching: (predicate) => received.filter(predicate),
    refuseRecipient: (email) => { refused.add(email.toLowerCase()); },
    holdAcceptance() {
      let release = () => undefined as void;
      const released = new Promise<void>((resolve) => { release = resolve; });
      const held = { released, release: () => { if (hold === held) hold = null; release(); } };
      hold = held;
      return { release: held.release };
    },
    waitFor(predicate, opts = {}) {
      const already = received.find(predicate);
      if (already) return Promise.resolve(already);
      const timeoutMs = opts.timeoutMs ?? 10_000;
      return new Promise<ReceivedMail>((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (mail: ReceivedMail) => {
            clearTimeout(timer);
            resolve(mail);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching mail within ${timeoutMs} ms; received: ${received.map((m) => `"${m.subject}" to ${m.to.join(', ')}`).join('; ') || 'nothing'}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    stop: shut,
    async start() {
      if (!server) await listen();
    },
    close: shut,
  };
}
