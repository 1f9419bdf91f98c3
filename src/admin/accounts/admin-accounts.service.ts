import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { DataSource, EntityManager } from 'typeorm';
import type { AdminSignInLimiter } from './admin-sign-in-limiter';

export const ADMIN_ROLES = ['viewer', 'admin', 'owner'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

export const MIN_PASSWORD_LENGTH = 12;

export interface AdminAccount {
  id: string;
  email: string;
  role: AdminRole;
  sessionsValidAfter: Date;
}

export interface AuditEntry {
  id: string;
  at: Date;
  /** The admin's email, or null when done from the command line. */
  by: string | null;
  action: string;
  subjectType: string;
  subjectId: string | null;
  before: unknown;
  after: unknown;
}

/** An account as the owners' page lists it. */
export interface AdminAccountRow {
  id: string;
  email: string;
  role: AdminRole;
  createdAt: Date;
  disabledAt: Date | null;
  lockedUntil: Date | null;
}

/** What an owner's change to an account came to. */
export type AccountChange = 'changed' | 'unchanged' | 'not_found' | 'last_owner';

export const AUDIT_PAGE_SIZE = 50;

export class AdminExistsError extends Error {}

export type SignInOutcome =
  | { kind: 'signed_in'; account: AdminAccount }
  | { kind: 'wrong' }
  | { kind: 'locked'; retryAfterSeconds: number };

/** True when role may do what needs at least `needed` (viewer < admin < owner). */
export function roleAtLeast(role: AdminRole, needed: AdminRole): boolean {
  return ADMIN_ROLES.indexOf(role) >= ADMIN_ROLES.indexOf(needed);
}

/** argon2id with the library's defaults (OWASP's minimum: 19 MiB, 2 passes). */
export const hashPassword = (password: string): Promise<string> => hash(password);

const ACCOUNT_COLUMNS = `id, email, role, sessions_valid_after AS "sessionsValidAfter"`;

/** Writes one audit-log row: who (null = CLI), what, on what, before and after. */
export async function audit(
  manager: EntityManager,
  entry: { adminId: string | null; action: string; subjectType: string; subjectId: string | null; before?: unknown; after?: unknown },
): Promise<void> {
  await manager.query(
    `INSERT INTO admin_audit_log (admin_id, action, subject_type, subject_id, before, after) VALUES ($1, $2, $3, $4, $5, $6)`,
    [entry.adminId, entry.action, entry.subjectType, entry.subjectId, entry.before === undefined ? null : JSON.stringify(entry.before), entry.after === undefined ? null : JSON.stringify(entry.after)],
  );
}

/** Creates an admin account (from the CLI: the audit row has no admin). The password is only ever stored hashed. */
export async function createAdminAccount(dataSource: DataSource, input: { email: string; role: AdminRole; password: string }, byAdminId: string | null = null): Promise<AdminAccount> {
  const passwordHash = await hashPassword(input.password);
  return dataSource.transaction(async (manager) => {
    const rows: AdminAccount[] = await manager.query(
      `INSERT INTO admin_accounts (email, role, password_hash) VALUES ($1, $2, $3)
       ON CONFLICT ((lower(email))) DO NOTHING RETURNING ${ACCOUNT_COLUMNS}`,
      [input.email.trim(), input.role, passwordHash],
    );
    if (rows.length === 0) throw new AdminExistsError(`An admin account for ${input.email.trim()} already exists.`);
    const account = rows[0];
    await audit(manager, { adminId: byAdminId, action: 'admin_account.create', subjectType: 'admin_account', subjectId: account.id, after: { email: account.email, role: account.role } });
    return account;
  });
}

/** Signing in to the admin console, who is signed in, signing everyone out, the audit log. */
export class AdminAccountsService {
  /**
   * Unknown emails are verified against this, so they take as long as a wrong password. Made with the
   * first sign-in, not at boot: argon2 takes 19 MiB and tens of milliseconds every instance would pay.
   */
  private dummyHash: Promise<string> | null = null;

  constructor(private readonly dataSource: DataSource, private readonly limiter: AdminSignInLimiter) {}

  async signIn(emailInput: unknown, passwordInput: unknown, ip: string): Promise<SignInOutcome> {
    const email = typeof emailInput === 'string' ? emailInput.trim().slice(0, 320) : '';
    const password = typeof passwordInput === 'string' ? passwordInput.slice(0, 1024) : '';
    const lockedFor = await this.limiter.lockedFor(email, ip);
    if (lockedFor !== null) return { kind: 'locked', retryAfterSeconds: lockedFor };

    const rows: (AdminAccount & { passwordHash: string })[] = await this.dataSource.query(
      `SELECT ${ACCOUNT_COLUMNS}, password_hash AS "passwordHash" FROM admin_accounts WHERE lower(email) = lower($1) AND disabled_at IS NULL`,
      [email],
    );
    const found = rows[0];
    const matches = await verify(found?.passwordHash ?? (await (this.dummyHash ??= hashPassword(randomBytes(16).toString('hex')))), password);
    if (found && matches) {
      await this.limiter.succeeded(email);
      await this.dataSource.query(`UPDATE admin_accounts SET failed_attempts = 0, locked_until = NULL WHERE id = $1`, [found.id]);
      return { kind: 'signed_in', account: { id: found.id, email: found.email, role: found.role, sessionsValidAfter: found.sessionsValidAfter } };
    }

    const lockout = await this.limiter.failed(email, ip);
    if (found) {
      await this.dataSource.query(
        `UPDATE admin_accounts SET failed_attempts = failed_attempts + 1, locked_until = CASE WHEN $2::int IS NULL THEN locked_until ELSE now() + make_interval(secs => $2::int) END WHERE id = $1`,
        [found.id, lockout],
      );
    }
    return lockout === null ? { kind: 'wrong' } : { kind: 'locked', retryAfterSeconds: lockout };
  }

  /** The account a session belongs to, while it is enabled and the session not revoked. */
  async sessionAccount(adminId: string, signedInAtMs: number): Promise<AdminAccount | null> {
    const rows: AdminAccount[] = await this.dataSource.query(
      `SELECT ${ACCOUNT_COLUMNS} FROM admin_accounts WHERE id = $1 AND disabled_at IS NULL`,
      [adminId],
    );
    const account = rows[0];
    if (!account || signedInAtMs < new Date(account.sessionsValidAfter).getTime()) return null;
    return account;
  }

  /** Ends every admin session (the owner's own included); returns the moment, so the owner's session can start anew from it. */
  async revokeAllSessions(byAdminId: string): Promise<Date> {
    return this.dataSource.transaction(async (manager) => {
      // Milliseconds, as sessions keep their sign-in time. A CTE: TypeORM hands back an UPDATE's rows wrapped with its count.
      const [{ at, accounts }]: { at: Date; accounts: number }[] = await manager.query(
        `WITH revoked AS (UPDATE admin_accounts SET sessions_valid_after = date_trunc('milliseconds', now()) RETURNING sessions_valid_after)
         SELECT max(sessions_valid_after) AS at, count(*)::int AS accounts FROM revoked`,
      );
      await audit(manager, { adminId: byAdminId, action: 'admin_sessions.revoke_all', subjectType: 'admin_account', subjectId: null, after: { accounts } });
      return at;
    });
  }

  /** An owner adds an account from the console (the same rules as admin:create). */
  create(input: { email: string; role: AdminRole; password: string }, byAdminId: string): Promise<AdminAccount> {
    return createAdminAccount(this.dataSource, input, byAdminId);
  }

  async listAccounts(): Promise<AdminAccountRow[]> {
    return this.dataSource.query(
      `SELECT id, email, role, created_at AS "createdAt", disabled_at AS "disabledAt",
              CASE WHEN locked_until > now() THEN locked_until END AS "lockedUntil"
         FROM admin_accounts ORDER BY disabled_at IS NOT NULL, lower(email)`,
    );
  }

  /** Gives an account another role; the last enabled owner keeps theirs (someone must be able to manage accounts). */
  async changeRole(accountId: string, role: AdminRole, byAdminId: string): Promise<AccountChange> {
    return this.changeAccount(accountId, byAdminId, 'admin_account.role', (account) => (account.role === role ? null : {
      sql: `UPDATE admin_accounts SET role = $2 WHERE id = $1`, params: [role],
      losesOwner: account.role === 'owner' && !account.disabled,
      before: { role: account.role }, after: { role },
    }));
  }

  /**
   * Disabling stops the account signing in and ends its sessions at once (sessions_valid_after);
   * enabling lets it sign in again with its password. The last enabled owner cannot be disabled.
   */
  async setDisabled(accountId: string, disabled: boolean, byAdminId: string): Promise<AccountChange> {
    return this.changeAccount(accountId, byAdminId, disabled ? 'admin_account.disable' : 'admin_account.enable', (account) => (account.disabled === disabled ? null : {
      sql: disabled
        ? `UPDATE admin_accounts SET disabled_at = now(), sessions_valid_after = date_trunc('milliseconds', now()) WHERE id = $1`
        : `UPDATE admin_accounts SET disabled_at = NULL WHERE id = $1`,
      params: [],
      losesOwner: disabled && account.role === 'owner',
      before: { disabled: account.disabled }, after: { disabled },
    }));
  }

  /** One owner's change to an account, audited, in a transaction that holds the owners' rows. */
  private async changeAccount(
    accountId: string,
    byAdminId: string,
    action: string,
    plan: (account: { role: AdminRole; disabled: boolean }) => { sql: string; params: unknown[]; losesOwner: boolean; before: unknown; after: unknown } | null,
  ): Promise<AccountChange> {
    return this.dataSource.transaction(async (manager) => {
      // Every enabled owner's row is locked too: two owners demoting each other at once cannot leave none.
      const rows: { id: string; role: AdminRole; disabled: boolean }[] = await manager.query(
        `SELECT id, role, disabled_at IS NOT NULL AS disabled FROM admin_accounts
          WHERE id = $1 OR (role = 'owner' AND disabled_at IS NULL) ORDER BY id FOR UPDATE`,
        [accountId],
      );
      const account = rows.find((r) => r.id === accountId);
      if (!account) return 'not_found';
      const change = plan(account);
      if (!change) return 'unchanged';
      const enabledOwners = rows.filter((r) => r.role === 'owner' && !r.disabled).length;
      if (change.losesOwner && enabledOwners <= 1) return 'last_owner';
      await manager.query(change.sql, [accountId, ...change.params]);
      await audit(manager, { adminId: byAdminId, action, subjectType: 'admin_account', subjectId: accountId, before: change.before, after: change.after });
      return 'changed';
    });
  }

  /** The audit log, newest first, a page at a time (the page before `beforeId`, when given). */
  async auditPage(beforeId: string | null, limit = AUDIT_PAGE_SIZE): Promise<{ entries: AuditEntry[]; olderFrom: string | null }> {
    const rows: AuditEntry[] = await this.dataSource.query(
      `SELECT l.id::text AS id, l.created_at AS at, a.email AS by, l.action, l.subject_type AS "subjectType", l.subject_id AS "subjectId", l.before, l.after
         FROM admin_audit_log l LEFT JOIN admin_accounts a ON a.id = l.admin_id
        WHERE $1::bigint IS NULL OR l.id < $1::bigint
        ORDER BY l.id DESC LIMIT $2`,
      [beforeId, limit + 1],
    );
    const entries = rows.slice(0, limit);
    return { entries, olderFrom: rows.length > limit ? entries[entries.length - 1].id : null };
  }
}
