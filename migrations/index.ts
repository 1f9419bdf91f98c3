import { MoneyLoop1764230400000 } from './1764230400000-MoneyLoop';
import { DonateRateLimits1764234000000 } from './1764234000000-DonateRateLimits';
import { WebhookInboxWorker1764300000000 } from './1764300000000-WebhookInboxWorker';
import { DonateChallenges1764310000000 } from './1764310000000-DonateChallenges';
import { PersonalDataRetention1764320000000 } from './1764320000000-PersonalDataRetention';
import { DonorWallIndex1764330000000 } from './1764330000000-DonorWallIndex';
import { DonorSelfService1764400000000 } from './1764400000000-DonorSelfService';
import { DonorIndexes1764440000000 } from './1764440000000-DonorIndexes';
import { MailClaimTokens1764450000000 } from './1764450000000-MailClaimTokens';
import { PlanRetryDate1764460000000 } from './1764460000000-PlanRetryDate';
import { AdminAccounts1764500000000 } from './1764500000000-AdminAccounts';
import { CampaignConsole1764510000000 } from './1764510000000-CampaignConsole';
import { DashboardIndexes1764515000000 } from './1764515000000-DashboardIndexes';
import { GiftConsole1764520000000 } from './1764520000000-GiftConsole';
import { GiftConsoleIndexes1764520001000 } from './1764520001000-GiftConsoleIndexes';
import { OfflineGifts1764525000000 } from './1764525000000-OfflineGifts';
import { OfflineGiftIndexes1764525100000 } from './1764525100000-OfflineGiftIndexes';
import { AdminDonors1764530000000 } from './1764530000000-AdminDonors';
import { IgnoredWebhookIndex1764546000000 } from './1764546000000-IgnoredWebhookIndex';
import { DonorTextSearch1764547000000 } from './1764547000000-DonorTextSearch';

/** Every migration, oldest first. Listed explicitly so compiled and test runs load the same set. */
export const migrations = [
  MoneyLoop1764230400000,
  DonateRateLimits1764234000000,
  WebhookInboxWorker1764300000000,
  DonateChallenges1764310000000,
  PersonalDataRetention1764320000000,
  DonorWallIndex1764330000000,
  DonorSelfService1764400000000,
  DonorIndexes1764440000000,
  MailClaimTokens1764450000000,
  PlanRetryDate1764460000000,
  AdminAccounts1764500000000,
  CampaignConsole1764510000000,
  DashboardIndexes1764515000000,
  GiftConsole1764520000000,
  GiftConsoleIndexes1764520001000,
  OfflineGifts1764525000000,
  OfflineGiftIndexes1764525100000,
  AdminDonors1764530000000,
  IgnoredWebhookIndex1764546000000,
  DonorTextSearch1764547000000,
];
