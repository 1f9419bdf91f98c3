import { MANAGE_LINK_DAYS } from '../../account/links';
import type { MailRenderer } from './mail';
import { greeting, oneLine } from './words';

/**
 * manage_link {}: a fresh manage link, sent by an admin from the console (a donor lost their receipts,
 * or the link in them expired). The donor did not ask Kettle for it, so it says who sent it. The link
 * is made when the mail is sent, so it is good for MANAGE_LINK_DAYS from then.
 */
export const renderManageLink: MailRenderer = async (mail, { links, templates, org }) => {
  const model = { greeting: greeting(mail.donor), manageUrl: links.manageUrl(mail.donor.id), days: MANAGE_LINK_DAYS, orgName: org.name };
  return { subject: oneLine(`Your link to manage your gifts to ${org.name}`), ...(await templates.render('manage_link', model)) };
};
