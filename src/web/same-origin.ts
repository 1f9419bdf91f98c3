import type { RequestHandler } from 'express';
import { HttpError } from './errors';

export class CrossSiteRequestError extends HttpError {
  constructor() {
    super(403, 'This form can only be sent from our own pages. Please open the campaign page and donate from there.');
  }
}

/**
 * Refuses a form post that another site made the browser send (CSRF): its Origin is not ours, or
 * the browser says it is cross-site. A post with neither header (old browsers, curl) passes: the
 * attack needs a browser, and every browser that runs one sends at least one of them.
 */
export function refuseCrossSitePosts(baseUrl: string): RequestHandler {
  const ourOrigin = new URL(baseUrl).origin;
  return (req, _res, next) => {
    const origin = req.get('origin');
    const fetchSite = req.get('sec-fetch-site');
    // The Host the browser itself addressed is ours too (e.g. 127.0.0.1 while BASE_URL says localhost).
    const ours = origin === ourOrigin || origin === `${req.protocol}://${req.get('host')}`;
    // Under a no-referrer policy a browser sends "Origin: null" even from our own page; its Sec-Fetch-Site tells.
    const hiddenButSameOrigin = origin === 'null' && fetchSite === 'same-origin';
    if (fetchSite === 'cross-site' || (origin !== undefined && !ours && !hiddenButSameOrigin)) return next(new CrossSiteRequestError());
    next();
  };
}
