/**
 * Tenants without a redeploy: the operator's operations on stores, the same SDK calls on the local
 * stack and on AWS (client/cli/admin-target.ts says where). A tenant is its config row (the config
 * table) and its orders table (`<prefix><tenantId>-orders`, silo); the tenant access role's policy
 * keys table ARNs on the TenantId session tag, so no IAM changes per tenant.
 *
 *   add      config row CREATING (conditional: a new id only) -> orders table (on-demand, encrypted)
 *            -> ACTIVE -> point-in-time recovery -> row ACTIVE. A failure half-way removes what was
 *            made; if even that fails, the row is left FAILED and `remove` cleans it up.
 *   suspend / resume   the row's status (its users still sign in; their questions are refused).
 *   set-plan the row's plan (tasks/plans.ts): admission reads it at the store's next question.
 *   remove   its users first (refused while it has users, unless confirmed), an on-demand backup of
 *            the orders table, then the table, then the row.
 */
import {
  ConditionalCheckFailedException,
  CreateBackupCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  GetItemCommand,
  PutItemCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  ScanCommand,
  UpdateContinuousBackupsCommand,
  UpdateItemCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import type { AdminTarget } from './cli/admin-target.ts';
import {
  AdminError,
  DEFAULT_PLAN,
  isPlanName,
  ORDERS_KEYS,
  ordersTableName,
  PLAN_NAMES,
  TENANT_ID_PATTERN,
  TENANT_STATUSES,
  type PlanName,
  type TenantRow,
  type TenantStatus,
} from './tenant-model.ts';

export { AdminError };

export type Progress = (line: string) => void;

/** How long `add` waits for the orders table to become ACTIVE, in seconds. */
const TABLE_WAIT_SECONDS = 300;

const S = (v: string): AttributeValue => ({ S: v });
const N = (v: number): AttributeValue => ({ N: String(v) });

function rowOf(item: Record<string, AttributeValue>): TenantRow {
  const status = item.status?.S as TenantStatus;
  return {
    tenantId: item.tenantId?.S ?? '',
    name: item.name?.S ?? '',
    status: TENANT_STATUSES.includes(status) ? status : 'FAILED',
    returnPolicyDays: Number(item.returnPolicyDays?.N ?? 0),
    ordersTable: item.ordersTable?.S ?? '',
    plan: isPlanName(item.plan?.S) ? item.plan.S : DEFAULT_PLAN,
  };
}

export function checkTenantId(tenantId: string): void {
  if (!TENANT_ID_PATTERN.test(tenantId)) {
    throw new AdminError(`Invalid tenant id '${tenantId}': 3 to 32 lower-case letters, digits and inner hyphens, starting with a letter (${TENANT_ID_PATTERN}).`);
  }
}

export async function listTenants(t: AdminTarget): Promise<TenantRow[]> {
  const rows: TenantRow[] = [];
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await t.dynamodb.send(new ScanCommand({ TableName: t.configTable, ExclusiveStartKey }));
    rows.push(...(page.Items ?? []).map(rowOf));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return rows.sort((a, b) => a.tenantId.localeCompare(b.tenantId));
}

export async function getTenant(t: AdminTarget, tenantId: string): Promise<TenantRow | undefined> {
  checkTenantId(tenantId);
  const out = await t.dynamodb.send(new GetItemCommand({ TableName: t.configTable, Key: { tenantId: S(tenantId) }, ConsistentRead: true }));
  return out.Item ? rowOf(out.Item) : undefined;
}

export async function requireTenant(t: AdminTarget, tenantId: string): Promise<TenantRow> {
  const row = await getTenant(t, tenantId);
  if (!row) throw new AdminError(`Unknown tenant '${tenantId}': npm run tenants -- list shows the stores.`);
  return row;
}

/** A plan name as the operator typed it, or the refusal that lists the plans. */
export function checkPlan(plan: string): PlanName {
  if (!isPlanName(plan)) throw new AdminError(`Unknown plan '${plan}': one of ${PLAN_NAMES.join(', ')}.`);
  return plan;
}

export interface NewTenant {
  tenantId: string;
  name: string;
  returnPolicyDays: number;
  /** @default DEFAULT_PLAN */
  plan?: string;
}

export function checkNewTenant(input: NewTenant): void {
  checkTenantId(input.tenantId);
  if (input.plan !== undefined) checkPlan(input.plan);
  const name = input.name.trim();
  if (name.length === 0 || name.length > 100) throw new AdminError('--name must be the store name, 1 to 100 characters.');
  if (!Number.isInteger(input.returnPolicyDays) || input.returnPolicyDays < 0 || input.returnPolicyDays > 365) {
    throw new AdminError('--return-days must be a whole number of days from 0 to 365.');
  }
}

export async function addTenant(t: AdminTarget, input: NewTenant, progress: Progress): Promise<TenantRow> {
  checkNewTenant(input);
  const ordersTable = ordersTableName(t.tablePrefix, input.tenantId);
  const plan = input.plan === undefined ? DEFAULT_PLAN : checkPlan(input.plan);
  const row: TenantRow = { tenantId: input.tenantId, name: input.name.trim(), status: 'CREATING', returnPolicyDays: input.returnPolicyDays, ordersTable, plan };
  try {
    await t.dynamodb.send(
      new PutItemCommand({
        TableName: t.configTable,
        Item: { tenantId: S(row.tenantId), name: S(row.name), status: S(row.status), returnPolicyDays: N(row.returnPolicyDays), ordersTable: S(ordersTable), plan: S(row.plan) },
        ConditionExpression: 'attribute_not_exists(tenantId)',
      }),
    );
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) {
      const existing = await getTenant(t, input.tenantId);
      throw new AdminError(`Tenant '${input.tenantId}' already exists${existing ? ` (${existing.status}, "${existing.name}")` : ''}: nothing changed.`);
    }
    throw err;
  }
  progress(`config row ${row.tenantId} written (CREATING)`);
  let created = false;
  try {
    await t.dynamodb.send(
      new CreateTableCommand({
        TableName: ordersTable,
        AttributeDefinitions: [
          { AttributeName: ORDERS_KEYS.partitionKey, AttributeType: 'S' },
          { AttributeName: ORDERS_KEYS.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: ORDERS_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: ORDERS_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        // As the CDK tables: encrypted with the AWS managed key.
        SSESpecification: { Enabled: true, SSEType: 'KMS' },
      }),
    );
    created = true;
    progress(`orders table ${ordersTable} created; waiting until it is ACTIVE`);
    await waitUntilTableExists({ client: t.dynamodb, maxWaitTime: TABLE_WAIT_SECONDS, minDelay: 1, maxDelay: 5 }, { TableName: ordersTable });
    await t.dynamodb.send(new UpdateContinuousBackupsCommand({ TableName: ordersTable, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
    progress(`orders table ${ordersTable} ACTIVE, point-in-time recovery on`);
    await setStatus(t, row.tenantId, 'ACTIVE', ['CREATING']);
    progress(`tenant ${row.tenantId} ACTIVE`);
    return { ...row, status: 'ACTIVE' };
  } catch (err) {
    const why = err instanceof ResourceInUseException ? `a table named ${ordersTable} already exists` : `${(err as Error).name}: ${(err as Error).message}`;
    try {
      if (created) {
        await t.dynamodb.send(new DeleteTableCommand({ TableName: ordersTable }));
        await waitUntilTableNotExists({ client: t.dynamodb, maxWaitTime: TABLE_WAIT_SECONDS, minDelay: 1, maxDelay: 5 }, { TableName: ordersTable });
      }
      await t.dynamodb.send(new DeleteItemCommand({ TableName: t.configTable, Key: { tenantId: S(row.tenantId) } }));
    } catch (cleanup) {
      await setStatus(t, row.tenantId, 'FAILED').catch(() => undefined);
      throw new AdminError(
        `Onboarding ${row.tenantId} failed (${why}) and its cleanup too (${(cleanup as Error).message}): it is marked FAILED; npm run tenants -- remove ${row.tenantId} removes what is left.`,
      );
    }
    throw new AdminError(`Onboarding ${row.tenantId} failed (${why}); nothing was left behind.`);
  }
}

/** Sets a tenant's status, on condition that it exists (and is in one of `from`, when given). */
async function setStatus(t: AdminTarget, tenantId: string, status: TenantStatus, from?: readonly TenantStatus[]): Promise<void> {
  const values: Record<string, AttributeValue> = { ':s': S(status) };
  from?.forEach((f, i) => (values[`:f${i}`] = S(f)));
  const condition = from ? `attribute_exists(tenantId) AND #st IN (${from.map((_, i) => `:f${i}`).join(', ')})` : 'attribute_exists(tenantId)';
  await t.dynamodb.send(
    new UpdateItemCommand({
      TableName: t.configTable,
      Key: { tenantId: S(tenantId) },
      UpdateExpression: 'SET #st = :s',
      ConditionExpression: condition,
      ExpressionAttributeNames: { '#st': 'status' },
      ExpressionAttributeValues: values,
    }),
  );
}

/** SUSPENDED from ACTIVE, or ACTIVE from SUSPENDED; anything else is refused with the tenant's status. */
export async function changeTenantStatus(t: AdminTarget, tenantId: string, to: 'SUSPENDED' | 'ACTIVE'): Promise<TenantRow> {
  const row = await requireTenant(t, tenantId);
  const from: TenantStatus = to === 'SUSPENDED' ? 'ACTIVE' : 'SUSPENDED';
  if (row.status === to) return row;
  if (row.status !== from) throw new AdminError(`Tenant '${tenantId}' is ${row.status}: only ${from} tenants can be ${to === 'SUSPENDED' ? 'suspended' : 'resumed'}.`);
  try {
    await setStatus(t, tenantId, to, [from]);
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) throw new AdminError(`Tenant '${tenantId}' changed while this ran: run the command again.`);
    throw err;
  }
  return { ...row, status: to };
}

/**
 * Sets a tenant's plan, on condition that its row exists: an unknown plan or tenant changes
 * nothing. The same plan again is no change (no write). Returns the row and the plan it had.
 */
export async function setTenantPlan(t: AdminTarget, tenantId: string, plan: string): Promise<{ row: TenantRow; previous: PlanName }> {
  const to = checkPlan(plan);
  const row = await requireTenant(t, tenantId);
  if (row.plan === to) return { row, previous: row.plan };
  try {
    await t.dynamodb.send(
      new UpdateItemCommand({
        TableName: t.configTable,
        Key: { tenantId: S(tenantId) },
        UpdateExpression: 'SET #plan = :p',
        ConditionExpression: 'attribute_exists(tenantId)',
        ExpressionAttributeNames: { '#plan': 'plan' },
        ExpressionAttributeValues: { ':p': S(to) },
      }),
    );
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) throw new AdminError(`Tenant '${tenantId}' was removed while this ran: nothing changed.`);
    throw err;
  }
  return { row: { ...row, plan: to }, previous: row.plan };
}

export interface RemovedTenant {
  tenantId: string;
  backup?: string;
  tableDeleted: boolean;
}

/**
 * Removes a tenant whose users are gone (the caller removes them first: users.ts). Backs up the
 * orders table on demand before deleting it; a table already gone (a failed onboarding) is skipped.
 */
export async function removeTenantData(t: AdminTarget, row: TenantRow, progress: Progress): Promise<RemovedTenant> {
  let backup: string | undefined;
  let tableDeleted = false;
  try {
    const out = await t.dynamodb.send(new CreateBackupCommand({ TableName: row.ordersTable, BackupName: `${row.tenantId}-removed-${new Date().toISOString().replace(/[:.]/g, '-')}` }));
    backup = out.BackupDetails?.BackupArn;
    progress(`orders table ${row.ordersTable} backed up (${backup})`);
    await t.dynamodb.send(new DeleteTableCommand({ TableName: row.ordersTable }));
    tableDeleted = true;
    progress(`orders table ${row.ordersTable} deleted`);
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException) && (err as Error).name !== 'TableNotFoundException') throw err;
    progress(`orders table ${row.ordersTable} does not exist: nothing to back up`);
  }
  await t.dynamodb.send(new DeleteItemCommand({ TableName: t.configTable, Key: { tenantId: S(row.tenantId) } }));
  progress(`config row ${row.tenantId} deleted`);
  return { tenantId: row.tenantId, ...(backup ? { backup } : {}), tableDeleted };
}
