/**
 * What DynamoDB keeps about a table that dynalite does not: encryption at rest (CreateTable's
 * SSESpecification, reported as DescribeTable's SSEDescription), point-in-time recovery
 * (UpdateContinuousBackups / DescribeContinuousBackups) and on-demand backups (CreateBackup /
 * DescribeBackup). npm run tenants creates each tenant's orders table encrypted with the AWS
 * managed key, turns point-in-time recovery on, and backs the table up before deleting it.
 *
 * A backup holds the table's items, scanned from dynalite when it is made: written owner-only to
 * `<dataDir>/backups/<table>-<backup id>.json` (in memory without dataDir). Its ARN is
 * `<table ARN>/backup/<14-digit epoch ms>-<8 hex>`, as AWS's. The records (encryption,
 * point-in-time recovery, backups) are kept in `<dataDir>/dynamodb-tables.json`. A backup outlives
 * its table, as on AWS; deleting a table forgets its encryption and recovery settings.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writePrivateFile } from '../../../../client/cli/private-file.ts';
import { tableArn } from '../../../../tasks/tables.ts';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';
import { AwsError, jsonResponse, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import { optionalBoolean, optionalNumber, optionalObject, optionalString, requiredString, validationError, type Fields } from '../../edge/wire.ts';

export const TABLE_STATE_FILE = 'dynamodb-tables.json';
export const BACKUPS_DIR = 'backups';
/** The operations answered here rather than by dynalite (after IAM has authorised them). */
export const TABLE_ADMIN_OPERATIONS: ReadonlySet<string> = new Set(['UpdateContinuousBackups', 'DescribeContinuousBackups', 'CreateBackup', 'DescribeBackup']);

/** Point-in-time recovery's default (and largest) recovery period, and how far behind now the latest restorable time runs. */
const MAX_RECOVERY_DAYS = 35;
const LATEST_RESTORABLE_LAG_MS = 5 * 60 * 1000;

const BackupSchema = z.object({
  arn: z.string(),
  name: z.string(),
  tableName: z.string(),
  tableId: z.string(),
  tableArn: z.string(),
  keySchema: z.array(z.object({ AttributeName: z.string(), KeyType: z.string() })),
  billingMode: z.string(),
  tableCreatedAt: z.number(),
  createdAt: z.number(),
  sizeBytes: z.number(),
  itemCount: z.number(),
  /** The items' file, when persisted. */
  file: z.string().optional(),
});
type Backup = z.infer<typeof BackupSchema>;
const TableSchema = z.object({
  sseKeyArn: z.string().optional(),
  pitr: z.object({ enabledAt: z.number(), recoveryPeriodInDays: z.number() }).optional(),
});
const StateSchema = z.object({
  version: z.literal(1),
  /** The account's AWS managed key for DynamoDB (`alias/aws/dynamodb`), made on first use. */
  awsManagedKeyId: z.string(),
  tables: z.record(z.string(), TableSchema),
  backups: z.array(BackupSchema),
});
type State = z.infer<typeof StateSchema>;

interface TableDescription {
  TableName: string;
  TableId: string;
  KeySchema: { AttributeName: string; KeyType: string }[];
  CreationDateTime: number;
  TableSizeBytes?: number;
  BillingModeSummary?: { BillingMode?: string };
}

export interface TableAdminOptions {
  protocol: Protocol;
  location: AwsLocation;
  /** Where the records and backups are kept. In memory when undefined. */
  dataDir?: string;
  clock: () => Date;
  /** Sends an (already authorised) request to dynalite. */
  forward: (operation: string, body: string) => Promise<WireResponse>;
}

const seconds = (ms: number) => ms / 1000;
const tableNotFound = (name: string) => new AwsError('TableNotFoundException', `Table not found: ${name}`, 400);

export class TableAdmin {
  private readonly state: State;
  private readonly file?: string;
  private readonly memoryItems = new Map<string, unknown[]>();
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly options: TableAdminOptions) {
    this.file = options.dataDir ? path.join(options.dataDir, TABLE_STATE_FILE) : undefined;
    this.state =
      this.file && existsSync(this.file)
        ? StateSchema.parse(JSON.parse(readFileSync(this.file, 'utf8')))
        : { version: 1, awsManagedKeyId: randomUUID(), tables: {}, backups: [] };
  }

  /** The items a backup holds (tests; a restore would read them). */
  backupItems(arn: string): unknown[] | undefined {
    const backup = this.state.backups.find((b) => b.arn === arn);
    if (!backup) return undefined;
    if (!backup.file) return this.memoryItems.get(arn);
    return (JSON.parse(readFileSync(backup.file, 'utf8')) as { items: unknown[] }).items;
  }

  async flush(): Promise<void> {
    await this.writes;
  }

  /**
   * dynalite's answer to CreateTable, DescribeTable or DeleteTable, with what it does not keep:
   * CreateTable's SSESpecification is recorded and reported as SSEDescription; DeleteTable forgets it.
   */
  async decorate(operation: string, request: Fields, response: WireResponse): Promise<WireResponse> {
    if (response.status !== 200) return response;
    const name = optionalString(request, 'TableName') ?? '';
    if (operation === 'DeleteTable') {
      delete this.state.tables[name];
      await this.persist();
      return response;
    }
    if (operation === 'CreateTable') {
      const sse = optionalObject(request, 'SSESpecification') ?? {};
      if (optionalBoolean(sse, 'Enabled') === true) {
        const keyId = optionalString(sse, 'KMSMasterKeyId');
        this.state.tables[name] = { ...this.state.tables[name], sseKeyArn: keyId?.startsWith('arn:') ? keyId : this.keyArn(keyId ?? this.state.awsManagedKeyId) };
      } else {
        delete this.state.tables[name];
      }
      await this.persist();
    }
    const sseKeyArn = this.state.tables[name]?.sseKeyArn;
    if (!sseKeyArn) return response;
    const body = JSON.parse(String(response.body)) as Record<string, Record<string, unknown>>;
    const member = operation === 'CreateTable' ? 'TableDescription' : 'Table';
    body[member] = { ...body[member], SSEDescription: { Status: 'ENABLED', SSEType: 'KMS', KMSMasterKeyArn: sseKeyArn } };
    // The body changed: dynalite's x-amz-crc32 no longer holds, so it is not sent.
    return jsonResponse(this.options.protocol, body, response.headers['x-amzn-requestid'] ?? randomUUID());
  }

  handle(operation: string, input: Fields, requestId: string): Promise<WireResponse> {
    const respond = (payload: unknown) => jsonResponse(this.options.protocol, payload, requestId);
    switch (operation) {
      case 'UpdateContinuousBackups':
        return this.updateContinuousBackups(input).then(respond);
      case 'DescribeContinuousBackups':
        return this.describeContinuousBackups(requiredString(input, 'TableName')).then(respond);
      case 'CreateBackup':
        return this.createBackup(input).then(respond);
      default:
        return Promise.resolve(respond(this.describeBackup(input)));
    }
  }

  private keyArn(keyId: string): string {
    const { partition, region, accountId } = this.options.location;
    return `arn:${partition}:kms:${region}:${accountId}:key/${keyId}`;
  }

  private async describeTable(name: string): Promise<TableDescription> {
    const res = await this.options.forward('DescribeTable', JSON.stringify({ TableName: name }));
    if (res.status !== 200) throw tableNotFound(name);
    return (JSON.parse(String(res.body)) as { Table: TableDescription }).Table;
  }

  private async updateContinuousBackups(input: Fields) {
    const name = requiredString(input, 'TableName');
    const spec = optionalObject(input, 'PointInTimeRecoverySpecification');
    if (!spec) throw validationError('pointInTimeRecoverySpecification', 'not be null', { value: null });
    const enabled = optionalBoolean(spec, 'PointInTimeRecoveryEnabled');
    if (enabled === undefined) throw validationError('pointInTimeRecoverySpecification.pointInTimeRecoveryEnabled', 'not be null', { value: null });
    const days = optionalNumber(spec, 'RecoveryPeriodInDays') ?? MAX_RECOVERY_DAYS;
    if (!Number.isInteger(days) || days < 1 || days > MAX_RECOVERY_DAYS) {
      throw validationError('pointInTimeRecoverySpecification.recoveryPeriodInDays', `have value between 1 and ${MAX_RECOVERY_DAYS}`, { value: days });
    }
    await this.describeTable(name);
    const table = (this.state.tables[name] ??= {});
    if (!enabled) delete table.pitr;
    else table.pitr = { enabledAt: table.pitr?.enabledAt ?? this.options.clock().getTime(), recoveryPeriodInDays: days };
    await this.persist();
    return this.describeContinuousBackups(name);
  }

  private async describeContinuousBackups(name: string) {
    await this.describeTable(name);
    const pitr = this.state.tables[name]?.pitr;
    const now = this.options.clock().getTime();
    return {
      ContinuousBackupsDescription: {
        // On-demand backups are always on: ContinuousBackupsStatus is ENABLED for every table.
        ContinuousBackupsStatus: 'ENABLED',
        PointInTimeRecoveryDescription: pitr
          ? {
              PointInTimeRecoveryStatus: 'ENABLED',
              RecoveryPeriodInDays: pitr.recoveryPeriodInDays,
              EarliestRestorableDateTime: seconds(Math.max(pitr.enabledAt, now - pitr.recoveryPeriodInDays * 24 * 3600 * 1000)),
              LatestRestorableDateTime: seconds(Math.max(pitr.enabledAt, now - LATEST_RESTORABLE_LAG_MS)),
            }
          : { PointInTimeRecoveryStatus: 'DISABLED' },
      },
    };
  }

  private async createBackup(input: Fields) {
    const name = requiredString(input, 'TableName');
    const backupName = requiredString(input, 'BackupName');
    if (!/^[a-zA-Z0-9_.-]{3,255}$/.test(backupName)) throw validationError('backupName', 'satisfy regular expression pattern: [a-zA-Z0-9_.-]+', { value: backupName });
    const table = await this.describeTable(name);
    const items = await this.scanAll(name);
    const now = this.options.clock().getTime();
    const id = `${String(now).padStart(14, '0')}-${randomBytes(4).toString('hex')}`;
    const arn = `${tableArn(this.options.location, name)}/backup/${id}`;
    let file: string | undefined;
    if (this.options.dataDir) {
      file = path.join(this.options.dataDir, BACKUPS_DIR, `${name}-${id}.json`);
      await writePrivateFile(file, JSON.stringify({ backupArn: arn, tableName: name, createdAt: new Date(now).toISOString(), items }));
    } else {
      this.memoryItems.set(arn, items);
    }
    const backup: Backup = {
      arn,
      name: backupName,
      tableName: name,
      tableId: table.TableId,
      tableArn: tableArn(this.options.location, name),
      keySchema: table.KeySchema,
      billingMode: table.BillingModeSummary?.BillingMode ?? 'PROVISIONED',
      tableCreatedAt: table.CreationDateTime,
      createdAt: now,
      sizeBytes: table.TableSizeBytes ?? 0,
      itemCount: items.length,
      ...(file ? { file } : {}),
    };
    this.state.backups.push(backup);
    await this.persist();
    return { BackupDetails: backupDetails(backup) };
  }

  private describeBackup(input: Fields) {
    const arn = requiredString(input, 'BackupArn');
    const backup = this.state.backups.find((b) => b.arn === arn);
    if (!backup) throw new AwsError('BackupNotFoundException', `Backup not found: ${arn}`, 400);
    return {
      BackupDescription: {
        BackupDetails: backupDetails(backup),
        SourceTableDetails: {
          TableName: backup.tableName,
          TableId: backup.tableId,
          TableArn: backup.tableArn,
          KeySchema: backup.keySchema,
          TableCreationDateTime: backup.tableCreatedAt,
          ProvisionedThroughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 0 },
          ItemCount: backup.itemCount,
          TableSizeBytes: backup.sizeBytes,
          BillingMode: backup.billingMode,
        },
      },
    };
  }

  private async scanAll(name: string): Promise<unknown[]> {
    const items: unknown[] = [];
    let start: unknown;
    do {
      const res = await this.options.forward('Scan', JSON.stringify({ TableName: name, ...(start ? { ExclusiveStartKey: start } : {}) }));
      if (res.status !== 200) throw tableNotFound(name);
      const page = JSON.parse(String(res.body)) as { Items?: unknown[]; LastEvaluatedKey?: unknown };
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  private persist(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const run = this.writes.then(() => writePrivateFile(file, JSON.stringify(this.state, null, 2)));
    this.writes = run.catch(() => undefined);
    return run;
  }
}

/** AWS's BackupDetails: the backup is made at once here, so it is AVAILABLE from the start. */
function backupDetails(b: Backup) {
  return {
    BackupArn: b.arn,
    BackupName: b.name,
    BackupSizeBytes: b.sizeBytes,
    BackupStatus: 'AVAILABLE',
    BackupType: 'USER',
    BackupCreationDateTime: seconds(b.createdAt),
  };
}
