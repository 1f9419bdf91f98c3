import type { DataSource } from 'typeorm';
import { Campaign } from './campaign.entity';
import { createCampaign } from './campaign.service';

export const DEMO_SLUG = 'end-of-year';

const STORY = `Independent reporting costs money, and we answer only to our readers.

This year we broke stories nobody else would touch, kept our newsletter free for everyone, and
did it **without a single billionaire owner**. To keep going next year we need to raise our goal by
**December 31**.

Every gift counts, whatever its size. Monthly gifts help us plan ahead.`;

/** Seeds one demo campaign into an empty database, so a new user sees something. Never in production. */
export async function seedDemoCampaign(dataSource: DataSource, now = new Date()): Promise<Campaign | null> {
  if ((await dataSource.getRepository(Campaign).count()) > 0) return null;
  const year = now.getUTCMonth() === 11 && now.getUTCDate() === 31 ? now.getUTCFullYear() + 1 : now.getUTCFullYear();
  return createCampaign(dataSource, {
    slug: DEMO_SLUG,
    title: 'Urgent end-of-year fundraising campaign',
    storyMarkdown: STORY,
    currency: 'usd',
    goalAmount: 50_000_00,
    presetAmounts: [10_00, 25_00, 50_00, 100_00, 250_00],
    defaultFrequency: 'once',
    startsAt: new Date(now.getTime() - 86_400_000),
    endsAt: new Date(Date.UTC(year, 11, 31, 23, 59, 59)),
  });
}
