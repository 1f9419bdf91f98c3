import { createChallenge, randomInt, verifySolution, type Payload } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import type { DataSource } from 'typeorm';
import { deriveSecret } from './secrets';
import type { ChallengeCheck, ChallengeWidget, HumanChallenge } from './human-challenge';

/** The form field the ALTCHA widget fills with its base64 JSON payload. */
export const ALTCHA_FIELD = 'altcha';

export interface AltchaDifficulty {
  /** PBKDF2 iterations per attempt. */
  cost: number;
  /** The solution is a random counter in this range: the expected work is about its middle. */
  counterMin: number;
  counterMax: number;
}

/** About a second or two in a browser on a phone; every further attempt costs a bot as much. */
export const DEFAULT_ALTCHA_DIFFICULTY: AltchaDifficulty = { cost: 1_000, counterMin: 500, counterMax: 3_000 };
const CHALLENGE_TTL_SECONDS = 15 * 60;

/**
 * ALTCHA, self-hosted: a proof-of-work the browser solves, signed with HMAC keys derived from
 * SESSION_SECRET. A key signature lets the server check a solution without redoing the work, and
 * each challenge passes once: its id is stored in Postgres (shared by all instances) until it expires.
 */
export class AltchaChallenge implements HumanChallenge {
  private readonly signatureSecret: string;
  private readonly keySignatureSecret: string;
  private lastPurge = 0;

  constructor(
    private readonly dataSource: DataSource,
    sessionSecret: string,
    private readonly difficulty: AltchaDifficulty = DEFAULT_ALTCHA_DIFFICULTY,
  ) {
    this.signatureSecret = deriveSecret(sessionSecret, 'altcha-signature').toString('hex');
    this.keySignatureSecret = deriveSecret(sessionSecret, 'altcha-key-signature').toString('hex');
  }

  async widget(): Promise<ChallengeWidget> {
    const challenge = await createChallenge({
      algorithm: 'PBKDF2/SHA-256',
      cost: this.difficulty.cost,
      counter: randomInt(this.difficulty.counterMax, this.difficulty.counterMin),
      deriveKey,
      expiresAt: new Date(Date.now() + CHALLENGE_TTL_SECONDS * 1000),
      hmacSignatureSecret: this.signatureSecret,
      hmacKeySignatureSecret: this.keySignatureSecret,
    });
    return { provider: 'altcha', challengeJson: JSON.stringify(challenge) };
  }

  async check(form: Record<string, unknown>): Promise<ChallengeCheck> {
    const raw = form[ALTCHA_FIELD];
    if (raw === undefined || raw === '') return 'missing';
    const payload = typeof raw === 'string' && raw.length <= 4_000 ? parsePayload(raw) : null;
    if (!payload) return 'failed';
    let verified = false;
    try {
      ({ verified } = await verifySolution({
        challenge: payload.challenge,
        solution: payload.solution,
        deriveKey,
        hmacSignatureSecret: this.signatureSecret,
        hmacKeySignatureSecret: this.keySignatureSecret,
      }));
    } catch {
      return 'failed'; // a malformed challenge object from a stranger
    }
    if (!verified || !payload.challenge.signature) return 'failed';
    return (await this.markUsed(payload.challenge.signature, payload.challenge.parameters.expiresAt)) ? 'passed' : 'failed';
  }

  /** Atomic across instances: of two posts of one solution, exactly one inserts the row. */
  private async markUsed(signature: string, expiresAtSeconds: number | undefined): Promise<boolean> {
    const expiresAt = new Date((expiresAtSeconds ?? Date.now() / 1000 + CHALLENGE_TTL_SECONDS) * 1000);
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO used_challenges (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [signature.slice(0, 128), expiresAt],
    );
    if (Date.now() - this.lastPurge > 60_000) {
      this.lastPurge = Date.now();
      await this.dataSource.query(`DELETE FROM used_challenges WHERE expires_at < now()`);
    }
    return rows.length === 1;
  }
}

function parsePayload(raw: string): Payload | null {
  try {
    const payload = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as Payload;
    const ok = payload && typeof payload === 'object' && payload.challenge && typeof payload.challenge === 'object'
      && payload.challenge.parameters && typeof payload.challenge.parameters === 'object' && payload.solution && typeof payload.solution === 'object';
    return ok ? payload : null;
  } catch {
    return null;
  }
}
