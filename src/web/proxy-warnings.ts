import type { RequestHandler } from 'express';
import type { Config } from '../config';
import type { Logger } from '../logger';

const EVERY_MS = 10 * 60_000;

/**
 * Behind a proxy Kettle does not trust, every donor seems to come from the proxy's address and
 * shares one rate-limit bucket: a few attempts then make everyone solve a challenge, or hit the
 * per-IP ceiling. Says so once at boot when the settings suggest a proxy, and in the log (at most
 * every ten minutes) when X-Forwarded-For arrives from a peer TRUST_PROXY does not cover.
 */
export function warnAboutUntrustedProxies(config: Config, logger: Logger): RequestHandler {
  const defaultTrust = config.trustProxy === 'loopback' || config.trustProxy === false;
  // Kettle serves plain HTTP: an https BASE_URL means something in front terminates TLS.
  if (defaultTrust && config.baseUrl.startsWith('https://')) {
    logger.warn({ trustProxy: config.trustProxy },
      'BASE_URL is https, so a proxy is likely in front of Kettle, but TRUST_PROXY only trusts proxies on this machine. '
      + 'If your proxy runs elsewhere, set TRUST_PROXY to its address or subnet (see "Behind a proxy" in README.md), '
      + 'or every donor shares one rate-limit bucket.');
  }
  let lastWarning = -Infinity;
  return (req, _res, next) => {
    if (req.headers['x-forwarded-for'] !== undefined && Date.now() - lastWarning >= EVERY_MS) {
      const peer = req.socket.remoteAddress ?? '';
      const trusted = (req.app.get('trust proxy fn') as (addr: string, hop: number) => boolean)(peer, 0);
      if (!trusted) {
        lastWarning = Date.now();
        // The peer is the proxy, not a donor; the header's addresses (donors') are not logged.
        logger.warn({ peer, trustProxy: config.trustProxy },
          `X-Forwarded-For arrived from ${peer}, which TRUST_PROXY does not trust: the header is ignored and every client behind that proxy shares one rate-limit bucket. `
          + 'Set TRUST_PROXY to the proxy\'s address or subnet (see "Behind a proxy" in README.md). This warning repeats at most every 10 minutes.');
      }
    }
    next();
  };
}
