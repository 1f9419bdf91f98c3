import { param, type MailRenderer } from './mail';
import { loadPlan } from './plan';
import { longDate } from '../../dates';
import { greeting, oneLine } from './words';

/**
 * cancel_confirmation { recurringGiftId }: a plan set to end at the end of its period, or ended
 * now, at the donor's (or the organisation's) request. Rendered from the plan as it is when sent:
 * a cancellation undone meanwhile sends nothing.
 */
export const renderCancelConfirmation: MailRenderer = async (mail, { db, links, templates, org }) => {
  const plan = await loadPlan(db, param(mail, 'recurringGiftId'));
  if (!plan) return { skip: 'the plan no longer exists' };
  if (plan.donorId !== mail.donor.id) return { skip: 'the plan is not this donor\'s' };

  const ended = plan.status === 'canceled';
  const endsOn = plan.cancelAt ?? (plan.cancelAtPeriodEnd ? plan.currentPeriodEnd : null);
  if (!ended && !endsOn) return { skip: 'the plan is no longer set to end' };

  const model = {
    greeting: greeting(mail.donor),
    ended,
    adjective: plan.adjective,
    amount: plan.amount,
    campaignTitle: plan.campaign?.title ?? org.name,
    endedOn: ended ? longDate(plan.canceledAt ?? new Date()) : null,
    endsOn: endsOn ? longDate(endsOn) : null,
    manageUrl: links.manageUrl(mail.donor.id),
  };
  const subject = ended ? `Your ${plan.adjective} gift to ${org.name} has ended` : `Your ${plan.adjective} gift to ${org.name} will end on ${model.endsOn}`;
  return { subject: oneLine(subject), ...(await templates.render('cancel_confirmation', model)) };
};
