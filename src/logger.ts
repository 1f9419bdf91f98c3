import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Structured logs. Secrets, card data and full emails must never reach them: see redact and maskEmail. */
export function createLogger(level: string, destination: DestinationStream = defaultDestination()): Logger {
  return pino({
    level,
    redact: {
      paths: [
        'req.headers.authorization', 'req.headers.cookie', 'req.headers["stripe-signature"]', 'res.headers["set-cookie"]',
        // TypeORM's QueryFailedError carries the query's parameters: donors' emails and names.
        // Its detail can quote a failing row ("Failing row contains (… email …)").
        'err.parameters', 'err.driverError.parameters', 'err.detail', 'err.driverError.detail', '*.email', 'email',
      ],
      censor: '[redacted]',
    },
  }, destination);
}

/** Readable lines for a person at a terminal; one JSON object per line for everything else (log shippers). */
function defaultDestination(): DestinationStream {
  if (!process.stdout.isTTY) return pino.destination(1);
  return pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', sync: true });
}

/** "jane.doe@example.org" → "j***@example.org": enough to correlate, not enough to identify. */
export function maskEmail(email: string | null | undefined): string | undefined {
  if (!email) return undefined;
  const at = email.lastIndexOf('@');
  return at < 1 ? '***' : `${email[0]}***${email.slice(at)}`;
}
