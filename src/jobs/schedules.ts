import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { CardExpiryService } from '../donations/card-expiry.service';
import type { Logger } from '../logger';
import { ReconcileService, type EventInbox } from '../payments/stripe/reconcile.service';
import type { Stripe } from '../payments/stripe/stripe-client';
import { RetentionService } from '../privacy/retention.service';
import { JobRunner, type ScheduledJob } from './job-runner';

/** Stripe retries a webhook for up to three days: the periodic reconcile looks that far back. */
export const RECONCILE_LOOKBACK_MS = 72 * 3_600_000;

/**
 * Kettle's recurring jobs. Each calls one service and holds no rules of its own.
 *
 * reconcile, every 15 minutes: events of the last 72 hours that Stripe has not delivered
 * (delivery_success=false). An event Kettle answered 2xx is in the inbox, so these are exactly the
 * ones that may be missing; the window needs no memory of the last run and survives missed runs.
 * `npm run cli -- reconcile` reads every event, for when the inbox itself may have lost some.
 *
 * card-expiry-notices, daily: mails donors whose card expires before their plan's next charge,
 * once per card (a missed day is caught up the next, as the rule reads the plans, not the date).
 */
export function kettleJobs(services: { reconcile: ReconcileService; retention: RetentionService; cardExpiry: CardExpiryService }): ScheduledJob[] {
  return [
    {
      name: 'reconcile',
      cron: '*/15 * * * *',
      run: () => services.reconcile.reconcile({ since: new Date(Date.now() - RECONCILE_LOOKBACK_MS), onlyUndelivered: true }),
    },
    {
      name: 'retention-purge',
      cron: '17 3 * * *',
      run: () => services.retention.purge(),
      expireInSeconds: 60 * 60,
    },
    {
      name: 'card-expiry-notices',
      cron: '41 9 * * *',
      run: () => services.cardExpiry.queueNotices(),
    },
  ];
}

export interface KettleJobsDeps {
  dataSource: DataSource;
  stripe: Stripe;
  inbox: EventInbox;
  dataRetentionDays: number;
  logger: Logger;
}

/**
 * Starts this instance's job runner in the background (the server answers meanwhile: pg-boss
 * creates its schema on a first start). The returned stop() waits for the start and for running jobs.
 */
export function startKettleJobs(deps: KettleJobsDeps): { stop(): Promise<void> } {
  const logger = deps.logger.child({ module: 'jobs' });
  const runner = new JobRunner({
    pool: (deps.dataSource.driver as PostgresDriver).master,
    logger,
    jobs: kettleJobs({
      reconcile: new ReconcileService(deps.dataSource, deps.stripe, deps.inbox, logger),
      retention: new RetentionService(deps.dataSource, deps.dataRetentionDays, logger),
      cardExpiry: new CardExpiryService(deps.dataSource, logger),
    }),
  });
  const started = runner.start().catch((err) => logger.error({ err }, 'the job runner did not start: reconcile, the retention purge and card-expiry notices will not run on this instance'));
  return {
    async stop() {
      await started;
      await runner.stop();
    },
  };
}
