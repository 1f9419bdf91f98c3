import type { Request, Response } from 'express';
import type { DataSource } from 'typeorm';
import { csrfToken, destroySession } from '../web/sessions';
import { accountPageModel, type PlanFormProblem } from './account-page';
import { signedInDonorId, takeFlash } from './account-session';
import type { LinkProblem } from './sign-in.service';

/** The account page, with a problem beside one plan's form when a change could not be made. */
export async function renderAccountPage(req: Request, res: Response, dataSource: DataSource, status: number, problem?: PlanFormProblem): Promise<void> {
  const model = await accountPageModel(dataSource.manager, signedInDonorId(req), { csrfToken: csrfToken(req), flash: takeFlash(req), problem });
  if (!model) {
    // The donor was erased while signed in: nothing of theirs is left to show.
    await destroySession(req);
    return res.redirect(303, '/account/sign-in');
  }
  res.status(status).render('account/index', model);
}

const PROBLEMS: Record<LinkProblem, { status: number; message: string }> = {
  invalid: { status: 400, message: 'This link is not complete or not valid. It may have been cut short when it was copied. Enter your email below and we will send you a new one.' },
  expired: { status: 410, message: 'This link has expired. Enter your email below and we will send you a new one.' },
  used: { status: 410, message: 'This sign-in link has already been used: each one works once. Enter your email below and we will send you a new one.' },
  no_account: { status: 410, message: 'This link no longer leads to an account. If you have given with another email address, enter it below.' },
};

export interface SignInView {
  problem?: LinkProblem;
  notice?: string;
  formError?: string;
  email?: string;
  error?: string;
  sent?: boolean;
}

/** The sign-in form: alone, after a link that did not work (explaining why), or after a link was asked for. */
export function renderSignIn(req: Request, res: Response, status: number, view: SignInView = {}): void {
  const problem = view.problem ? PROBLEMS[view.problem] : null;
  res.status(problem?.status ?? status).render('account/sign-in', {
    title: 'Sign in to manage your gifts',
    problem: problem?.message ?? view.formError ?? null,
    notice: view.notice ?? null,
    email: view.email ?? '',
    error: view.error ?? null,
    sent: view.sent ?? false,
    csrfToken: csrfToken(req),
  });
}

/**
 * The page a link opens: one button that POSTs, so opening the link alone signs nobody in. It
 * names the account the link opens (email masked), and when another donor is signed in in this
 * browser it says so and the button says it switches: a link someone sent to open their own
 * account in a visitor's browser (login CSRF by link) does not pass unnoticed.
 */
export function renderContinue(req: Request, res: Response, view: {
  action: string; next: string | null; heading: string; lead: string; button: string;
  /** The email of the account the link opens, and of another donor signed in here (or null). */
  opens: string; signedInAs: string | null;
}): void {
  const opens = maskEmail(view.opens);
  const signedInAs = view.signedInAs === null ? null : maskEmail(view.signedInAs);
  res.render('account/continue', {
    title: view.heading,
    heading: view.heading,
    lead: view.lead,
    action: view.action,
    next: view.next,
    opens,
    signedInAs,
    button: signedInAs ? `Sign out of ${signedInAs}, open ${opens}'s gifts` : view.button,
    csrfToken: csrfToken(req),
  });
}

/** "jane@example.org" → "j•••@example.org": enough for its owner to know it, little for anyone else. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  const first = [...email.slice(0, Math.max(at, 0))][0] ?? '';
  return `${first}•••${at >= 0 ? email.slice(at) : ''}`;
}
