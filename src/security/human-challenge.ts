/** What the donate form shows when a challenge is required. */
export type ChallengeWidget =
  | { provider: 'altcha'; challengeJson: string }
  | { provider: 'turnstile' | 'hcaptcha'; siteKey: string };

export type ChallengeCheck = 'passed' | 'missing' | 'failed';

/**
 * A proof that a person (or at least a costly client) sends the form: asked only over a rate
 * threshold, so an attacker pays per attempt while ordinary donors never see it.
 */
export interface HumanChallenge {
  widget(): Promise<ChallengeWidget>;
  /** Checks the solution the form carries; a solution passes once only. */
  check(form: Record<string, unknown>, clientIp: string): Promise<ChallengeCheck>;
}
