/**
 * The data contract: table names and key schemas. One source, read by infra/aws (CDK) and
 * infra/local (the stand-ins), and by the tasks and tools that read the tables.
 */
import type { AwsLocation } from './aws-location.ts';
import type { PlanName } from './plans.ts';

export interface KeySchema {
  /** Partition (hash) key attribute; it is what `dynamodb:LeadingKeys` compares. */
  readonly partitionKey: string;
  /** Sort (range) key attribute, if any. */
  readonly sortKey?: string;
}

/** Tenant config, pooled: one item per tenant. */
export const CONFIG_KEYS: KeySchema = { partitionKey: 'tenantId' };
/** Orders, silo: one table per tenant, one partition per user (the Cognito `sub`). */
export const ORDERS_KEYS: KeySchema = { partitionKey: 'userId', sortKey: 'orderId' };
/** Failed and replayed runs, for operators. */
export const RUNS_KEYS: KeySchema = { partitionKey: 'tenantId', sortKey: 'answerId' };
/**
 * Answers claimed (idempotency): one item per answerId, written by ValidateContext with a
 * conditional PutItem before anything else happens, so that a duplicate execution of the same ask
 * stops there. Express executions are at-least-once; the claim makes an answer happen once.
 */
export const CLAIMS_KEYS: KeySchema = { partitionKey: 'answerId' };
/** The claims table's TTL attribute (epoch seconds), as DynamoDB's Time to Live reads it. */
export const CLAIM_EXPIRY_ATTRIBUTE = 'expiresAt';
/** How long a claim holds: a duplicate arrives within seconds, 24 hours leaves a wide margin. */
export const CLAIM_TTL_SECONDS = 24 * 60 * 60;

/**
 * Conversations (the converse runtime's memory), pooled: one partition per asker, keyed
 * `<tenantId>#<userId>` (conversationPartition), so that `dynamodb:LeadingKeys` confines a tenant
 * session to its own asker's conversations; one item per turn, sorted `<conversationId>#<seq>`.
 */
export const CONVERSATIONS_KEYS: KeySchema = { partitionKey: 'askerKey', sortKey: 'turnKey' };
/** The conversations table's TTL attribute (epoch seconds). */
export const CONVERSATION_EXPIRY_ATTRIBUTE = 'expiresAt';
/** How long a conversation's turns are kept after they were written. */
export const CONVERSATION_TTL_SECONDS = 7 * 24 * 60 * 60;

/**
 * The partition of one asker's conversations. A tenant id never holds `#` (TENANT_ID_PATTERN), so
 * no two (tenant, user) pairs share a partition.
 */
export function conversationPartition(tenantId: string, userId: string): string {
  return `${tenantId}#${userId}`;
}

/**
 * Physical table names. `prefix` lets several deployments share an account; the local stack
 * uses no prefix, so its tables are `tenant-config`, `<tenantId>-orders`, `assistant-runs`,
 * `answer-claims` and `conversations`.
 */
export class TableNames {
  constructor(readonly prefix = '') {}

  get config(): string {
    return `${this.prefix}tenant-config`;
  }

  get runs(): string {
    return `${this.prefix}assistant-runs`;
  }

  get claims(): string {
    return `${this.prefix}answer-claims`;
  }

  get conversations(): string {
    return `${this.prefix}conversations`;
  }

  get usage(): string {
    return `${this.prefix}usage`;
  }

  orders(tenantId: string): string {
    return `${this.prefix}${tenantId}-orders`;
  }
}

/** A tenant id is a short lowercase slug; it becomes part of a table name and an IAM ARN. */
export const TENANT_ID_PATTERN = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;

export function tableArn(loc: AwsLocation, tableName: string): string {
  return `arn:${loc.partition}:dynamodb:${loc.region}:${loc.accountId}:table/${tableName}`;
}

/**
 * Every tenant's orders table, present or future: `arn:...:table/<prefix>*-orders`
 * (`TableNames.orders('*')`). Tenants are added at runtime, so the operator's policy names their
 * tables by this one pattern; the `-orders` suffix after the stack's prefix keeps the other tables out.
 * The `*` also matches a longer prefix: another deployment in the account whose prefix begins with
 * this one's (`app-` and `app-2-`) would be inside it, so prefixes in one account must not begin one
 * another (README, "Tenants and users without a redeploy").
 */
export function ordersTablesArnPattern(loc: AwsLocation, names: TableNames): string {
  return tableArn(loc, names.orders('*'));
}

/**
 * A tenant's lifecycle, as its config row's `status` holds it: CREATING while it is being onboarded
 * (its table, row and users are added one by one), ACTIVE once onboarded, SUSPENDED when the
 * operators pause its assistant (its users can still sign in; their questions are refused), FAILED
 * when onboarding stopped half-way. ValidateContext answers only ACTIVE tenants.
 */
export const TENANT_STATUSES = ['CREATING', 'ACTIVE', 'SUSPENDED', 'FAILED'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/** Tenant config item as stored. */
export interface TenantConfig {
  tenantId: string;
  name: string;
  status: TenantStatus;
  returnPolicyDays: number;
  ordersTable: string;
  /** The tenant's plan (tasks/plans.ts); a row without one has DEFAULT_PLAN's limits. */
  plan?: PlanName;
}

/** Answer claim item as stored (the claims table). */
export interface AnswerClaim {
  answerId: string;
  /** The execution that owns the answer; a retry of ValidateContext in it claims again. */
  executionArn: string;
  tenantId: string;
  userId: string;
  /** Epoch seconds: DynamoDB's TTL removes the item some time after; the claim's condition ignores it from then on. */
  expiresAt: number;
  claimedAt: string;
}

/** Order item as stored. */
export interface Order {
  userId: string;
  orderId: string;
  orderDate: string;
  total: number;
  status: 'PLACED' | 'SHIPPED' | 'DELIVERED' | 'RETURNED' | 'CANCELLED';
  items: string[];
}
