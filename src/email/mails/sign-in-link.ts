import { SIGN_IN_LINK_MINUTES } from '../../account/links';
import { param, type MailRenderer } from './mail';
import { greeting, oneLine } from './words';

/**
 * sign_in_link { tokenId }: the single-use link asked for on the sign-in page. A token already
 * used or expired by the time the mail goes out is not sent: the donor asks again.
 */
export const renderSignInLink: MailRenderer = async (mail, { db, links, templates, org }) => {
  const tokenId = param(mail, 'tokenId');
  const [token] = tokenId ? await db.query(
    `SELECT donor_id, used_at IS NOT NULL AS used, expires_at <= now() AS expired FROM donor_sign_in_tokens WHERE id = $1`,
    [tokenId],
  ) : [];
  if (!token) return { skip: 'the sign-in token no longer exists' };
  if (token.donor_id !== mail.donor.id) return { skip: 'the sign-in token is not this donor\'s' };
  if (token.used || token.expired) return { skip: 'the sign-in token was used or expired before it could be sent' };

  const model = { greeting: greeting(mail.donor), signInUrl: links.signInUrl(tokenId!), minutes: SIGN_IN_LINK_MINUTES, orgName: org.name };
  return { subject: oneLine(`Your sign-in link for ${org.name}`), ...(await templates.render('sign_in_link', model)) };
};
