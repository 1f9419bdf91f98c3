import type { EmulatorLogger } from './logger';
import type { EmulatorStore } from './store';
import type { WebhookDelivery } from './webhooks';

/** Everything a route or flow needs. `publicUrl` is known only once the server listens. */
export interface EmulatorContext {
  store: EmulatorStore;
  webhooks: WebhookDelivery;
  logger: EmulatorLogger;
  publicUrl: string;
  /** The business name the hosted pages show, like a Stripe account's public name. */
  accountName: string;
}
