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

/** The page a link opens: one button that POSTs, so opening the link alone signs nobody in. */
export function renderContinue(req: Request, res: Response, view: { action: string; next: string | null; heading: string; lead: string; button: string }): void {
  res.render('account/continue', { title: view.heading, ...view, csrfToken: csrfToken(req) });
}
