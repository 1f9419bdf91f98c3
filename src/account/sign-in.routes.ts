import { Router } from 'express';
import { csrfProtection } from '../web/sessions';
import { waitInWords } from '../web/wait-words';
import { redirectAfterSave, safeNextPath, signInDonor } from './account-session';
import { renderContinue, renderSignIn } from './account-views';
import type { SignInService } from './sign-in.service';

/**
 * Signing in without a password. The links in mail open a page with one button; only its POST
 * signs in, so a mail scanner that opens links signs nobody in. Showing that page starts a session
 * holding only the form's CSRF token; signing in replaces it with a new one.
 */
export function signInRoutes(signIn: SignInService): Router {
  const router = Router();

  for (const link of linkKinds(signIn)) {
    router.get(`/${link.path}/:token`, async (req, res) => {
      const state = await link.peek(req.params.token);
      if (!state.ok) return renderSignIn(req, res, 400, { problem: state.problem });
      const next = link.followsNext ? safeNextPath(req.query.next) : '/account';
      const current = req.session.donorId;
      const signedInAs = current && current !== state.donorId ? await signIn.donorEmail(current) : null;
      renderContinue(req, res, { action: `/account/${link.path}/${req.params.token}`, next: next === '/account' ? null : next, ...link.page, opens: state.email, signedInAs });
    });

    router.post(`/${link.path}/:token`, csrfProtection, async (req, res) => {
      const used = await link.use(String(req.params.token));
      if (!used.ok) return renderSignIn(req, res, 400, { problem: used.problem });
      await signInDonor(req, used.donorId);
      await redirectAfterSave(req, res, link.followsNext ? safeNextPath(req.body?.next) : '/account');
    });
  }

  router.get('/sign-in', (req, res) => {
    renderSignIn(req, res, 200, { notice: req.query.signed_out === '1' ? 'You have signed out.' : undefined });
  });

  router.post('/sign-in', csrfProtection, async (req, res) => {
    const outcome = await signIn.requestLink(req.body?.email, req.ip ?? 'unknown');
    switch (outcome.kind) {
      case 'sent':
        return renderSignIn(req, res, 200, { sent: true });
      case 'invalid':
        return renderSignIn(req, res, 400, { email: outcome.email, error: outcome.error });
      case 'rate_limited':
        res.set('Retry-After', String(outcome.retryAfterSeconds));
        return renderSignIn(req, res, 429, {
          email: typeof req.body?.email === 'string' ? req.body.email : '',
          formError: `Too many sign-in links have been asked for. Please try again in ${waitInWords(outcome.retryAfterSeconds)}, or use the link in any receipt we sent you.`,
        });
    }
  });

  return router;
}

/**
 * The two links in mail. A manage link (every receipt) may say where to go next, as the
 * failed-payment mail's link to the card update does; a sign-in link is used up by its POST.
 */
function linkKinds(signIn: SignInService) {
  return [
    {
      path: 'manage',
      peek: (token: string) => signIn.manageLinkDonor(token),
      use: (token: string) => signIn.manageLinkDonor(token),
      followsNext: true,
      page: { heading: 'Manage your gifts', lead: 'See your gifts, and change, pause or cancel a recurring gift.', button: 'Continue to my gifts' },
    },
    {
      path: 'sign-in',
      peek: (token: string) => signIn.signInLinkState(token),
      use: (token: string) => signIn.useSignInLink(token),
      followsNext: false,
      page: { heading: 'Sign in', lead: 'Press the button to sign in and see your gifts. This link works once.', button: 'Sign in' },
    },
  ];
}
