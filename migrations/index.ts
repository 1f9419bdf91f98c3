import { MoneyLoop1764230400000 } from './1764230400000-MoneyLoop';
import { DonateRateLimits1764234000000 } from './1764234000000-DonateRateLimits';
import { WebhookInboxWorker1764300000000 } from './1764300000000-WebhookInboxWorker';

/** Every migration, oldest first. Listed explicitly so compiled and test runs load the same set. */
export const migrations = [MoneyLoop1764230400000, DonateRateLimits1764234000000, WebhookInboxWorker1764300000000];
