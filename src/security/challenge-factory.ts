import type { DataSource } from 'typeorm';
import type { CaptchaConfig } from '../config';
import { AltchaChallenge } from './altcha-challenge';
import { HostedCaptcha } from './hosted-captcha';
import type { HumanChallenge } from './human-challenge';

export function createHumanChallenge(captcha: CaptchaConfig, dataSource: DataSource, sessionSecret: string): HumanChallenge {
  return captcha.provider === 'altcha'
    ? new AltchaChallenge(dataSource, sessionSecret)
    : new HostedCaptcha(captcha.provider, captcha.siteKey, captcha.secretKey);
}
