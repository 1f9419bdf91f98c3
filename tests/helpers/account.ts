import request from 'supertest';
import { AccountLinks } from '../../src/account/links';
import type { Campaign } from '../../src/campaigns/campaign.entity';
import { RecurringGift } from '../../src/donations/recurring-gift.entity';
import { donateAndPay } from './flows';
import type { TestKettle } from './kettle';

export type Agent = ReturnType<typeof request.agent>;

/** The links Kettle mails, made with the test app's own secret. */
export const accountLinks = (kettle: TestKettle) => new AccountLinks(kettle.baseUrl, kettle.config.sessionSecret);

/** The path (and query) of one of Kettle's absolute URLs, for supertest. */
export const pathOf = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

/** The CSRF token of the page's forms. */
export function csrfOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error(`no _csrf field in the page: ${html.slice(0, 300)}`);
  return match[1];
}

/** The nonce the account page put in its plan forms ('' when it shows none: no plan can change). */
export function nonceOf(html: string): string {
  return /name="nonce" value="([^"]+)"/.exec(html)?.[1] ?? '';
}

/** Opens a link page (manage or sign-in link) and presses its one button, as a donor does. */
export async function pressLinkButton(agent: Agent, url: string, extra: Record<string, string> = {}) {
  const page = await agent.get(pathOf(url));
  if (page.status !== 200) throw new Error(`the link page answered ${page.status}: ${page.text.slice(0, 300)}`);
  const action = /<form method="post" action="([^"]+)"/.exec(page.text)![1];
  const next = /name="next" value="([^"]+)"/.exec(page.text)?.[1];
  return agent.post(action.replace(/&amp;/g, '&')).type('form').send({ _csrf: csrfOf(page.text), ...(next && { next: next.replace(/&amp;/g, '&') }), ...extra });
}

/** A browser-like client signed in as the donor through a manage link from a receipt. */
export async function signedInAgent(kettle: TestKettle, donorId: string): Promise<Agent> {
  const agent = request.agent(kettle.app);
  const res = await pressLinkButton(agent, accountLinks(kettle).manageUrl(donorId));
  if (res.status !== 303 || res.headers.location !== '/account') throw new Error(`sign-in answered ${res.status} ${res.headers.location}`);
  return agent;
}

/** The account page's CSRF token and form nonce, as a donor's browser has them before sending a form. */
export async function accountForms(agent: Agent): Promise<{ _csrf: string; nonce: string; html: string }> {
  const page = await agent.get('/account');
  if (page.status !== 200) throw new Error(`/account answered ${page.status}`);
  return { _csrf: csrfOf(page.text), nonce: nonceOf(page.text), html: page.text };
}

export interface MonthlyGift {
  donorId: string;
  plan: RecurringGift;
  subscriptionId: string;
}

/** Gives monthly through the donate form and the emulator's checkout; returns the plan once Kettle has it. */
export async function giveMonthly(kettle: TestKettle, campaign: Campaign, email: string, amount = '10'): Promise<MonthlyGift> {
  const started = await donateAndPay(kettle, campaign, { email, amount, frequency: 'monthly' });
  const session = await kettle.stripe.checkout.sessions.retrieve(started.sessionId);
  const plan = await kettle.dataSource.getRepository(RecurringGift).findOneByOrFail({ stripeSubscriptionId: session.subscription as string });
  return { donorId: plan.donorId!, plan, subscriptionId: plan.stripeSubscriptionId };
}

/** The donor of an email, as Kettle stored it. */
export async function donorIdOf(kettle: TestKettle, email: string): Promise<string> {
  const [row] = await kettle.dataSource.query(`SELECT id FROM donors WHERE lower(email) = lower($1)`, [email]);
  if (!row) throw new Error(`no donor ${email}`);
  return row.id;
}
