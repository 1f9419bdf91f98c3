import request from 'supertest';
import { createAdminAccount, type AdminRole } from '../../src/admin/accounts/admin-accounts.service';
import { csrfOf } from './account';
import type { TestKettle } from './kettle';

export const ADMIN_PASSWORD = 'correct horse battery';

let adminCounter = 0;

/** A browser signed in to the console as a new admin of `role`, with what tests need to drive its forms. */
export interface AdminBrowser {
  email: string;
  get(path: string): request.Test;
  /** Posts a form as a browser does (urlencoded), with the console's current CSRF token unless `_csrf` is given. */
  post(path: string, form?: Record<string, string | number>): Promise<request.Response>;
  /** Posts without any CSRF token (to check the 403). */
  postWithoutToken(path: string, form?: Record<string, string | number>): request.Test;
}

/**
 * Creates an admin account (as the CLI does, without the process) and signs in through the real
 * sign-in form from its own address, so per-IP limits of different tests stay apart.
 */
export async function signedInAdmin(kettle: TestKettle, role: AdminRole = 'admin', ip = `10.77.${(adminCounter % 250) + 1}.1`): Promise<AdminBrowser> {
  adminCounter += 1;
  const email = `${role}-${adminCounter}-${Date.now()}@example.org`;
  await createAdminAccount(kettle.dataSource, { email, role, password: ADMIN_PASSWORD });
  const agent = request.agent(kettle.app);
  const form = await agent.get('/admin/sign-in').set('X-Forwarded-For', ip);
  const res = await agent.post('/admin/sign-in').set('X-Forwarded-For', ip).type('form')
    .send({ _csrf: csrfOf(form.text), email, password: ADMIN_PASSWORD });
  if (res.status !== 303) throw new Error(`admin sign-in answered ${res.status}: ${res.text.slice(0, 300)}`);
  let token = '';
  const csrf = async () => {
    if (!token) token = csrfOf((await agent.get('/admin/accounts').set('X-Forwarded-For', ip)).text);
    return token;
  };
  return {
    email,
    get: (path) => agent.get(path).set('X-Forwarded-For', ip),
    post: async (path, form = {}) => agent.post(path).set('X-Forwarded-For', ip).type('form').send({ _csrf: await csrf(), ...form }),
    postWithoutToken: (path, form = {}) => agent.post(path).set('X-Forwarded-For', ip).type('form').send(form),
  };
}
