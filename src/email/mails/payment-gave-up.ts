import { param, type MailRenderer } from './mail';
import { loadPlan } from './plan';
import { greeting, oneLine } from './words';

/**
 * payment_gave_up { recurringGiftId }: Stripe stopped retrying a renewal and canceled the plan.
 * Says it ended, that nothing more will be taken, and how to give again.
 */
export const renderPaymentGaveUp: MailRenderer = async (mail, { db, links, templates, org }) => {
  const plan = await loadPlan(db, param(mail, 'recurringGiftId'));
  if (!plan) return { skip: 'the plan no longer exists' };
  if (plan.donorId !== mail.donor.id) return { skip: 'the plan is not this donor\'s' };

  const model = {
    greeting: greeting(mail.donor),
    amount: plan.amount,
    adjective: plan.adjective,
    campaignTitle: plan.campaign?.title ?? org.name,
    giveAgainUrl: plan.campaign ? `${org.baseUrl}/campaigns/${encodeURIComponent(plan.campaign.slug)}` : org.baseUrl,
    manageUrl: links.manageUrl(mail.donor.id),
  };
  return { subject: oneLine(`We could not collect your ${plan.adjective} gift to ${org.name}: it has ended`), ...(await templates.render('payment_gave_up', model)) };
};
