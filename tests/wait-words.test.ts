import { describe, expect, it } from 'vitest';
import { waitInWords } from '../src/web/wait-words';

describe('the wait a refused donor is told', () => {
  it.each([
    [1, '1 second'], [0.2, '1 second'], [45, '45 seconds'], [60, '1 minute'], [61, '2 minutes'],
    [7 * 60 - 5, '7 minutes'], [3600, '60 minutes'], [90 * 60, '90 minutes'], [2 * 3600, '2 hours'],
  ])('%s seconds read "%s", rounded up', (seconds, words) => {
    expect(waitInWords(seconds)).toBe(words);
  });
});
