/**
 * The isolation matrix, for any set of callers: tenant-scoped credentials minted through STS
 * exactly as the workflow mints them, against every table (the config row, each listed tenant's
 * orders table, runs, conversations, usage), with keys that try every way across a boundary (another
 * tenant, another user of the same tenant, a prefix collision, empty, `*`, a look-alike), and every
 * operation. IAM in the local edge (not our code) must deny each cross-boundary cell with
 * AccessDeniedException, while the own-data control cells return the caller's data. Rows are
 * planted behind every forbidden key first, so that a wrong allow returns data rather than nothing.
 *
 * Used by test/isolation.test.ts (the seeded tenants) and test/tenants-cli.test.ts (a tenant and
 * users onboarded through the CLI).
 */
import {
  BatchGetItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  ExecuteStatementCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { STSClient } from '@aws-sdk/client-sts';
import type { LocalStack } from '../infra/local/stack.ts';
import { conversationPartition } from '../tasks/tables.ts';
import { INFLIGHT_SORT_KEY, userPartition } from '../tasks/usage.ts';
import { assumeTenantRole } from '../tasks/tenant-credentials.ts';

/** A user as the matrix needs one: who they are and which tenant they belong to. */
export interface MatrixUser {
  username: string;
  tenantId: string;
  sub: string;
}

/** `config`, `runs`, `conversations`, or `orders:<tenantId>`. */
export type TableRef = string;

export const KEYS = ['own', 'other-tenant', 'other-user', 'prefix-collision', 'empty', 'star', 'lookalike'] as const;
export const OPS = ['GetItem', 'Query', 'BatchGetItem', 'Scan', 'PutItem', 'DeleteItem', 'ExecuteStatement'] as const;
type KeyKind = (typeof KEYS)[number];
type Op = (typeof OPS)[number];

/** Own-data cells a caller may use: GetItem and Query of its config row and own orders, GetItem, Query and PutItem of its conversations. */
export const CONTROL_CELLS_PER_CALLER = 2 * 2 + 3;

/** A turn every conversations cell addresses (planted behind every key, so that a wrong allow returns data). */
export const PLANTED_TURN = 'planted#00000001';

const LOOKALIKES: Record<string, string> = { a: '\u0430', e: '\u0435', c: '\u0441', o: '\u043e', '1': '\uff11', '2': '\uff12', '4': '\uff14' };

/** The same string with its first look-alike-able character swapped for a Cyrillic or full-width twin. */
export function lookalike(value: string): string {
  const i = [...value].findIndex((ch) => ch in LOOKALIKES);
  if (i < 0) throw new Error(`no look-alike for ${value}`);
  return value.slice(0, i) + LOOKALIKES[value[i]!] + value.slice(i + 1);
}

export interface MatrixResult {
  total: number;
  allowed: number;
  denied: number;
  mismatches: string[];
  /** One line for the test log. */
  summary: string;
}

export class IsolationMatrix {
  readonly tables: readonly TableRef[];
  /** An existing order id per user (and 'ord-planted' per planted variant), so that GetItem cells hit real items. */
  readonly orderOf = new Map<string, string>();
  private readonly scoped = new Map<string, DynamoDBClient>();
  /** Every item planted, to remove afterwards (a shared stack's later tests must not see them). */
  private readonly planted: { TableName: string; Key: Record<string, AttributeValue> }[] = [];

  private constructor(
    private readonly stack: LocalStack,
    private readonly operator: DynamoDBClient,
    readonly callers: readonly MatrixUser[],
    private readonly population: readonly MatrixUser[],
    readonly tenants: readonly string[],
  ) {
    this.tables = ['config', ...tenants.map((t) => `orders:${t}`), 'runs', 'conversations', 'usage'];
  }

  /**
   * Mints each caller's scoped credentials and plants the rows. `population` holds the users whose
   * keys the cross-boundary cells use (callers included); every caller needs another user of a
   * listed tenant, and another tenant's user, in it.
   */
  static async prepare(options: { stack: LocalStack; operator: DynamoDBClient; callers: readonly MatrixUser[]; population?: readonly MatrixUser[]; tenants: readonly string[] }): Promise<IsolationMatrix> {
    const m = new IsolationMatrix(options.stack, options.operator, options.callers, options.population ?? options.callers, options.tenants);
    await m.mint();
    await m.plant();
    return m;
  }

  client(username: string): DynamoDBClient {
    const c = this.scoped.get(username);
    if (!c) throw new Error(`${username} is not a caller of this matrix`);
    return c;
  }

  private tableName(ref: TableRef): string {
    const t = this.stack.tables;
    if (ref.startsWith('orders:')) return t.orders(ref.slice('orders:'.length));
    if (ref === 'usage') return t.usage;
    return ref === 'config' ? t.config : ref === 'runs' ? t.runs : t.conversations;
  }

  private schema(ref: TableRef): { pk: string; sk?: string } {
    if (ref === 'config') return { pk: 'tenantId' };
    if (ref === 'runs') return { pk: 'tenantId', sk: 'answerId' };
    if (ref === 'conversations') return { pk: 'askerKey', sk: 'turnKey' };
    if (ref === 'usage') return { pk: 'pk', sk: 'sk' };
    return { pk: 'userId', sk: 'orderId' };
  }

  private otherTenantUser(caller: MatrixUser): MatrixUser {
    const u = this.population.find((p) => p.tenantId !== caller.tenantId && this.tenants.includes(p.tenantId));
    if (!u) throw new Error(`the population has no user of another listed tenant for ${caller.username}`);
    return u;
  }

  private otherUser(caller: MatrixUser): MatrixUser {
    // Another user of the caller's tenant; for a tenant with one user, another tenant's second user.
    const u =
      this.population.find((p) => p.tenantId === caller.tenantId && p.username !== caller.username) ??
      [...this.population].reverse().find((p) => p.username !== caller.username && this.tenants.includes(p.tenantId));
    if (!u) throw new Error(`the population has no other user for ${caller.username}`);
    return u;
  }

  /**
   * A user's own partition of a table: the tenant's config row and runs, the user's orders, the
   * asker's conversations (`<tenantId>#<userId>`), the user's admission windows (`USER#...`; the
   * usage table is no tenant session's at all, not even its own windows).
   */
  private partition(ref: TableRef, u: { tenantId: string; sub: string }): string {
    if (ref === 'config' || ref === 'runs') return u.tenantId;
    if (ref === 'conversations') return conversationPartition(u.tenantId, u.sub);
    if (ref === 'usage') return userPartition(u.tenantId, u.sub);
    return u.sub;
  }

  /** The partition key value a cell uses. "own" is the caller's own partition of that table. */
  keyFor(caller: MatrixUser, ref: TableRef, kind: KeyKind): string {
    const own = this.partition(ref, caller);
    switch (kind) {
      case 'own':
        return own;
      case 'other-tenant':
        return this.partition(ref, this.otherTenantUser(caller));
      case 'other-user': {
        const other = this.otherUser(caller);
        // Per-tenant tables have no user partition: the other user's id itself.
        return ref === 'config' || ref === 'runs' ? other.sub : this.partition(ref, { tenantId: caller.tenantId, sub: other.sub });
      }
      case 'prefix-collision':
        return `${own}0`; // tenant1 vs tenant10; <sub> vs <sub>0
      case 'empty':
        return '';
      case 'star':
        return '*';
      case 'lookalike':
        return lookalike(own);
    }
  }

  private keyItem(caller: MatrixUser, ref: TableRef, pkValue: string): Record<string, AttributeValue> {
    const { pk, sk } = this.schema(ref);
    const key: Record<string, AttributeValue> = { [pk]: { S: pkValue } };
    if (sk) key[sk] = { S: ref === 'runs' ? `${caller.sub}.a1` : ref === 'conversations' ? PLANTED_TURN : ref === 'usage' ? INFLIGHT_SORT_KEY : (this.orderOf.get(pkValue) ?? 'ord-00000000-000000') };
    return key;
  }

  /**
   * The only cells that may succeed: GetItem and Query of the caller's own config row and own orders
   * partition, and GetItem, Query and PutItem of the caller's own conversations. The isolation policy
   * grants nothing else, not even BatchGetItem of the same keys, nor deleting one's own turns, nor
   * any access to the usage table (a tenant must not read or reset its own counters).
   */
  private isControlCell(caller: MatrixUser, ref: TableRef, kind: KeyKind, op: Op): boolean {
    if (ref === 'conversations') return kind === 'own' && (op === 'GetItem' || op === 'Query' || op === 'PutItem');
    const readable = ref === 'config' || ref === `orders:${caller.tenantId}`;
    return readable && kind === 'own' && (op === 'GetItem' || op === 'Query');
  }

  private async runCell(client: DynamoDBClient, caller: MatrixUser, ref: TableRef, op: Op, pkValue: string): Promise<number> {
    const TableName = this.tableName(ref);
    const { pk } = this.schema(ref);
    const Key = this.keyItem(caller, ref, pkValue);
    switch (op) {
      case 'GetItem':
        return (await client.send(new GetItemCommand({ TableName, Key }))).Item ? 1 : 0;
      case 'Query':
        return (
          await client.send(
            new QueryCommand({ TableName, KeyConditionExpression: '#pk = :pk', ExpressionAttributeNames: { '#pk': pk }, ExpressionAttributeValues: { ':pk': { S: pkValue } } }),
          )
        ).Count!;
      case 'BatchGetItem':
        return (await client.send(new BatchGetItemCommand({ RequestItems: { [TableName]: { Keys: [Key] } } }))).Responses?.[TableName]?.length ?? 0;
      case 'Scan':
        return (await client.send(new ScanCommand({ TableName }))).Count!;
      case 'PutItem':
        await client.send(new PutItemCommand({ TableName, Item: { ...Key, note: { S: 'written by an attacker' } } }));
        return 1;
      case 'DeleteItem':
        await client.send(new DeleteItemCommand({ TableName, Key }));
        return 1;
      case 'ExecuteStatement':
        return (await client.send(new ExecuteStatementCommand({ Statement: `SELECT * FROM "${TableName}" WHERE "${pk}" = ?`, Parameters: [{ S: pkValue }] }))).Items!.length;
    }
  }

  /** Every cell, every caller. */
  async run(): Promise<MatrixResult> {
    const mismatches: string[] = [];
    let allowed = 0;
    let denied = 0;
    for (const caller of this.callers) {
      const client = this.client(caller.username);
      for (const ref of this.tables) {
        for (const kind of KEYS) {
          const pkValue = this.keyFor(caller, ref, kind);
          for (const op of OPS) {
            const cell = `${caller.username} ${op} ${this.tableName(ref)} key=${kind}`;
            const control = this.isControlCell(caller, ref, kind, op);
            try {
              const count = await this.runCell(client, caller, ref, op, pkValue);
              if (!control) mismatches.push(`${cell}: ALLOWED (returned ${count})`);
              else if (count < 1) mismatches.push(`${cell}: control cell returned no data`);
              else allowed++;
            } catch (err) {
              const e = err as Error;
              if (control) mismatches.push(`${cell}: control cell failed: ${e.name}: ${e.message}`);
              else if (e.name !== 'AccessDeniedException' || !/ is not authorized to perform: dynamodb:/.test(e.message)) {
                mismatches.push(`${cell}: expected AccessDeniedException, got ${e.name}: ${e.message}`);
              } else denied++;
            }
          }
        }
      }
    }
    const total = this.callers.length * this.tables.length * KEYS.length * OPS.length;
    const summary = `isolation matrix: ${total} cells (${this.callers.length} callers x ${this.tables.length} tables x ${KEYS.length} keys x ${OPS.length} operations): ${allowed} own-data control cells allowed, ${denied} cross-boundary cells denied with AccessDeniedException, ${mismatches.length} mismatches`;
    return { total, allowed, denied, mismatches, summary };
  }

  private async mint(): Promise<void> {
    const sts = new STSClient(this.stack.clientConfig('mint-credentials'));
    try {
      for (const u of this.callers) {
        const creds = await assumeTenantRole(
          { tenantId: u.tenantId, userId: u.sub },
          { sts, tenantAccessRoleArn: this.stack.iam.resources.tenantAccessRoleArn, location: this.stack.iam.location, tables: this.stack.tables },
        );
        this.scoped.set(u.username, new DynamoDBClient(this.stack.clientConfig(creds)));
      }
    } finally {
      sts.destroy();
    }
  }

  private async put(TableName: string, Item: Record<string, AttributeValue>, key: string[]): Promise<void> {
    await this.operator.send(new PutItemCommand({ TableName, Item }));
    this.planted.push({ TableName, Key: Object.fromEntries(key.map((k) => [k, Item[k]!])) });
  }

  private async plant(): Promise<void> {
    const t = this.stack.tables;
    const ordersTables = this.tenants.map((id) => t.orders(id));
    for (const u of this.callers) {
      const table = t.orders(u.tenantId);
      const own = await this.operator.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': { S: u.sub } } }));
      const first = own.Items?.[0]?.orderId?.S;
      if (first) this.orderOf.set(u.sub, first);
      else {
        // A caller with no orders yet (seeded users start with none) gets one, so that its control cells read data.
        await this.put(table, { userId: { S: u.sub }, orderId: { S: 'ord-matrix-own' }, total: { N: '1' } }, ['userId', 'orderId']);
        this.orderOf.set(u.sub, 'ord-matrix-own');
      }
      for (const variant of [`${u.sub}0`, lookalike(u.sub), '*']) {
        for (const orders of ordersTables) await this.put(orders, { userId: { S: variant }, orderId: { S: 'ord-planted' }, total: { N: '1' } }, ['userId', 'orderId']);
        this.orderOf.set(variant, 'ord-planted');
      }
    }
    const tenantVariants = this.tenants.flatMap((id) => [id, `${id}0`, lookalike(id)]);
    for (const tenantId of [...tenantVariants.filter((v) => !this.tenants.includes(v)), '*']) {
      await this.put(t.config, { tenantId: { S: tenantId }, name: { S: `planted ${tenantId}` }, status: { S: 'ACTIVE' } }, ['tenantId']);
    }
    for (const tenantId of [...tenantVariants, '*']) {
      for (const u of this.population) await this.put(t.runs, { tenantId: { S: tenantId }, answerId: { S: `${u.sub}.a1` }, error: { S: 'x' } }, ['tenantId', 'answerId']);
    }
    for (const u of this.population) await this.put(t.config, { tenantId: { S: u.sub }, name: { S: 'planted by sub' } }, ['tenantId']);
    for (const caller of this.callers) {
      for (const kind of KEYS.filter((k) => k !== 'empty')) {
        const pk = this.keyFor(caller, 'usage', kind);
        await this.put(t.usage, { pk: { S: pk }, sk: { S: INFLIGHT_SORT_KEY }, slots: { SS: ['1#planted'] } }, ['pk', 'sk']);
      }
      for (const kind of KEYS.filter((k) => k !== 'empty')) {
        const askerKey = this.keyFor(caller, 'conversations', kind);
        await this.put(t.conversations, { askerKey: { S: askerKey }, turnKey: { S: PLANTED_TURN }, planted: { S: askerKey } }, ['askerKey', 'turnKey']);
      }
    }
  }

  /** Removes every planted item (the control cells' own writes included) and the scoped clients. */
  async cleanup(): Promise<void> {
    for (const { TableName, Key } of this.planted.reverse()) await this.operator.send(new DeleteItemCommand({ TableName, Key }));
    this.planted.length = 0;
    for (const c of this.scoped.values()) c.destroy();
    this.scoped.clear();
  }
}
