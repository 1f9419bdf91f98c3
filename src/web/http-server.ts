import { createServer, type RequestListener, type Server } from 'node:http';
import type { Config } from '../config';

/**
 * The HTTP server with tight bounds on slow clients: a client that trickles its headers or body
 * (slow-loris; stalled uploads to /stripe/webhook held memory before) is answered 408 and dropped.
 */
export function createHttpServer(app: RequestListener, http: Config['http']): Server {
  return createServer({
    headersTimeout: http.headersTimeoutMs,
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    // How often those two timeouts are checked (Node's default, 30 s, would let them overrun).
    connectionsCheckingInterval: Math.min(1_000, http.headersTimeoutMs),
  }, app);
}
