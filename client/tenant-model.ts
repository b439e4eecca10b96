/**
 * What the operator's tools (`npm run tenants`, `npm run users`, the web UI's Tenants view) know of
 * a tenant, as copies: client/ imports no workflow code. test/client-schema.test.ts proves each copy
 * equal to its source (tasks/tables.ts, tasks/seed.ts, tasks/user-pool-policy.ts).
 */

/** tasks/tables.ts TENANT_ID_PATTERN: a short lowercase slug, part of a table name and an IAM ARN. */
export const TENANT_ID_PATTERN = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;

/** tasks/tables.ts TENANT_STATUSES (TenantConfig['status']). */
export const TENANT_STATUSES = ['CREATING', 'ACTIVE', 'SUSPENDED', 'FAILED'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/** The config row as stored (tasks/tables.ts TenantConfig). */
export interface TenantRow {
  tenantId: string;
  name: string;
  status: TenantStatus;
  returnPolicyDays: number;
  ordersTable: string;
  plan: PlanName;
}

/** tasks/plans.ts PLAN_NAMES and DEFAULT_PLAN (the plan of a row that names none). */
export const PLAN_NAMES = ['basic', 'standard', 'premium'] as const;
export type PlanName = (typeof PLAN_NAMES)[number];
export const DEFAULT_PLAN: PlanName = 'standard';
export const isPlanName = (value: unknown): value is PlanName => typeof value === 'string' && (PLAN_NAMES as readonly string[]).includes(value);

/** tasks/tables.ts TableNames.orders and ORDERS_KEYS. */
export const ordersTableName = (prefix: string, tenantId: string): string => `${prefix}${tenantId}-orders`;
export const ORDERS_KEYS = { partitionKey: 'userId', sortKey: 'orderId' } as const;

/** tasks/user-pool-policy.ts USER_POOL_PASSWORD_POLICY (the parts a generated password must meet). */
export const PASSWORD_POLICY = { minLength: 12, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true } as const;

/** Usernames as the tools accept them (Cognito allows more; these stay readable in table rows and secret names). */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{2,62}[a-z0-9]$/;

/** A uniform integer in [0, max) from Web Crypto (Node and browsers alike: the web UI imports this module). */
function randomInt(max: number): number {
  const limit = Math.floor(0x1_0000_0000 / max) * max;
  const buf = new Uint32Array(1);
  for (;;) {
    globalThis.crypto.getRandomValues(buf);
    if (buf[0]! < limit) return buf[0]! % max;
  }
}

const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';
const SYMBOLS = '!#$%*+-=?@^_';

/** A temporary password that meets the pool's policy: 20 characters, every class present. */
export function generateTemporaryPassword(length = 20): string {
  const all = LOWER + UPPER + DIGITS + SYMBOLS;
  const chars = [LOWER, UPPER, DIGITS, SYMBOLS].map((set) => set[randomInt(set.length)]!);
  while (chars.length < Math.max(length, PASSWORD_POLICY.minLength)) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

/** A refusal the operator can act on: the command prints its message and exits non-zero, having changed nothing. */
export class AdminError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminError';
  }
}
