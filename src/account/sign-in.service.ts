import type { DataSource } from 'typeorm';
import { INVALID_EMAIL, isValidEmail, plainText } from '../donations/donation-form';
import { queueMails } from '../email/outbox';
import type { AccountLinks } from './links';
import { SIGN_IN_LINK_MINUTES } from './links';
import type { SignInLimiter } from './sign-in-limiter';

/** Why a link does not sign anyone in, for a page that explains it and offers a new one. */
export type LinkProblem = 'invalid' | 'expired' | 'used' | 'no_account';

export type LinkCheck = { ok: true; donorId: string } | { ok: false; problem: LinkProblem };

/** A link that would sign in: whose account it opens. */
export type LinkPeek = { ok: true; donorId: string; email: string } | { ok: false; problem: LinkProblem };

export type LinkRequest =
  | { kind: 'sent' }
  | { kind: 'invalid'; email: string; error: string }
  | { kind: 'rate_limited'; retryAfterSeconds: number };

/**
 * Who a link signs in. Manage links (in receipts) are signed with their expiry and work many
 * times; sign-in links (asked for on the sign-in page) name a donor_sign_in_tokens row that
 * makes them single-use. Checking a link never signs anyone in: the routes do that on POST.
 */
export class SignInService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly links: AccountLinks,
    private readonly limiter: SignInLimiter,
  ) {}

  /** The donor of a manage link: signed by us, not expired, and the donor still exists (not erased). */
  async manageLinkDonor(token: string): Promise<LinkPeek> {
    const check = this.links.checkManageToken(token);
    if (!check.ok) return { ok: false, problem: check.reason === 'expired' ? 'expired' : 'invalid' };
    const email = await this.donorEmail(check.value.donorId);
    return email !== null ? { ok: true, donorId: check.value.donorId, email } : { ok: false, problem: 'no_account' };
  }

  /** Whether a sign-in link would still work, and whose account it opens, without using it (the page before its button). */
  async signInLinkState(token: string): Promise<LinkPeek> {
    const check = this.links.checkSignInToken(token);
    if (!check.ok) return { ok: false, problem: 'invalid' };
    const [row] = await this.dataSource.query(
      `SELECT t.used_at IS NOT NULL AS used, t.expires_at <= now() AS expired, d.id AS donor_id, d.email
         FROM donor_sign_in_tokens t LEFT JOIN donors d ON d.id = t.donor_id
        WHERE t.id = $1`,
      [check.value.tokenId],
    );
    if (!row) return { ok: false, problem: 'invalid' };
    if (row.used) return { ok: false, problem: 'used' };
    if (row.expired) return { ok: false, problem: 'expired' };
    return row.donor_id ? { ok: true, donorId: row.donor_id, email: row.email } : { ok: false, problem: 'no_account' };
  }

  /** A donor's email address; null when there is no such donor, or it was erased. */
  async donorEmail(donorId: string): Promise<string | null> {
    const [donor] = await this.dataSource.query(`SELECT email FROM donors WHERE id = $1 AND erased_at IS NULL`, [donorId]);
    return donor ? donor.email : null;
  }

  /** Uses a sign-in link: at most one request ever gets its donor, however many race for it. */
  async useSignInLink(token: string): Promise<LinkCheck> {
    const check = this.links.checkSignInToken(token);
    if (!check.ok) return { ok: false, problem: 'invalid' };
    const [used]: { donor_id: string; donor_exists: boolean }[] = await this.dataSource.query(
      `WITH used AS (
         UPDATE donor_sign_in_tokens SET used_at = now()
          WHERE id = $1 AND used_at IS NULL AND expires_at > now()
          RETURNING donor_id)
       SELECT used.donor_id, EXISTS (SELECT 1 FROM donors WHERE id = used.donor_id) AS donor_exists FROM used`,
      [check.value.tokenId],
    );
    if (!used) {
      const state = await this.signInLinkState(token);
      return { ok: false, problem: state.ok ? 'invalid' : state.problem };
    }
    return used.donor_exists ? { ok: true, donorId: used.donor_id } : { ok: false, problem: 'no_account' };
  }

  /**
   * Mails a single-use sign-in link when the address is a donor's. The answer is the same whether
   * or not it is: only the address's owner learns, from their inbox.
   */
  async requestLink(emailField: unknown, clientIp: string): Promise<LinkRequest> {
    const ipWait = await this.limiter.fromIp(clientIp);
    if (ipWait !== null) return { kind: 'rate_limited', retryAfterSeconds: ipWait };
    const email = plainText(emailField);
    if (!email) return { kind: 'invalid', email: '', error: 'Enter the email address you gave with.' };
    if (!isValidEmail(email)) return { kind: 'invalid', email, error: INVALID_EMAIL };
    const addressWait = await this.limiter.forAddress(email);
    if (addressWait !== null) return { kind: 'rate_limited', retryAfterSeconds: addressWait };

    await this.dataSource.transaction(async (tx) => {
      const [donor] = await tx.query(`SELECT id FROM donors WHERE lower(email) = lower($1)`, [email]);
      if (!donor) return;
      const [token] = await tx.query(
        `INSERT INTO donor_sign_in_tokens (donor_id, expires_at) VALUES ($1, now() + make_interval(mins => $2)) RETURNING id`,
        [donor.id, SIGN_IN_LINK_MINUTES],
      );
      await queueMails(tx, [{ dedupeKey: `sign_in:${token.id}`, kind: 'sign_in_link', donorId: donor.id, params: { tokenId: token.id } }]);
    });
    return { kind: 'sent' };
  }
}
