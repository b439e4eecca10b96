/**
 * The table management npm run tenants needs, over the wire with the SDK against the edge:
 * CreateTable with PAY_PER_REQUEST and SSESpecification (reported as SSEDescription), DescribeTable
 * (CREATING, then ACTIVE), point-in-time recovery per table (UpdateContinuousBackups /
 * DescribeContinuousBackups), on-demand backups (CreateBackup writes the items owner-only under
 * dataDir; DescribeBackup), DeleteTable, persistence across a restart, and IAM: the operator may
 * manage any tenant's orders table (the `*-orders` pattern), nothing else; a task role nothing.
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateBackupCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeBackupCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateContinuousBackupsCommand,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LocalIam, type LocalPrincipalName } from '../../iam/principals.ts';
import { DynamoService } from './service.ts';
import { BACKUPS_DIR } from './table-admin.ts';

let iam: LocalIam;
let dataDir: string;
let dynamo: DynamoService;
let edge: Edge;
let endpoint: string;
const clients: DynamoDBClient[] = [];

async function start(): Promise<void> {
  dynamo = new DynamoService({ location: iam.location, evaluator: new PolicyEvaluator(), path: path.join(dataDir, 'dynamodb'), dataDir });
  await dynamo.start();
  edge = new Edge({ iam, services: { dynamodb: dynamo }, clock: () => new Date(), logger: silentLogger });
  endpoint = await edge.listen(0);
}
async function stop(): Promise<void> {
  clients.splice(0).forEach((c) => c.destroy());
  await edge.close();
  await dynamo.stop();
}

beforeAll(async () => {
  // tenant7 is a project tenant (the operator may write its items); tenant8 and tenant42 come at runtime.
  iam = new LocalIam({ tenantIds: ['tenant7'] });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'dynamo-admin-'));
  await start();
});
afterAll(async () => {
  await stop();
  await rm(dataDir, { recursive: true, force: true });
});

function client(who: LocalPrincipalName = 'operator'): DynamoDBClient {
  const c = new DynamoDBClient({ endpoint, region: iam.location.region, credentials: iam.credentials(who), maxAttempts: 1 });
  clients.push(c);
  return c;
}

const ordersTable = (name: string, sse = true): CreateTableCommandInput => ({
  TableName: name,
  BillingMode: 'PAY_PER_REQUEST',
  KeySchema: [
    { AttributeName: 'userId', KeyType: 'HASH' },
    { AttributeName: 'orderId', KeyType: 'RANGE' },
  ],
  AttributeDefinitions: [
    { AttributeName: 'userId', AttributeType: 'S' },
    { AttributeName: 'orderId', AttributeType: 'S' },
  ],
  ...(sse ? { SSESpecification: { Enabled: true } } : {}),
});

describe('CreateTable and DescribeTable', () => {
  it('creates a PAY_PER_REQUEST table encrypted with the AWS managed key: SSEDescription ENABLED/KMS; CREATING, then ACTIVE', async () => {
    const created = await client().send(new CreateTableCommand(ordersTable('tenant7-orders')));
    expect(created.TableDescription).toMatchObject({ TableStatus: 'CREATING', BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' } });
    expect(created.TableDescription!.SSEDescription).toEqual({ Status: 'ENABLED', SSEType: 'KMS', KMSMasterKeyArn: expect.stringMatching(/^arn:aws:kms:us-east-1:\d{12}:key\/[0-9a-f-]{36}$/) });
    const described = await client().send(new DescribeTableCommand({ TableName: 'tenant7-orders' }));
    expect(described.Table).toMatchObject({ TableStatus: 'ACTIVE', SSEDescription: created.TableDescription!.SSEDescription });
    // Control: without SSESpecification, the table is encrypted with an AWS owned key: no SSEDescription.
    await client().send(new CreateTableCommand(ordersTable('tenant8-orders', false)));
    expect((await client().send(new DescribeTableCommand({ TableName: 'tenant8-orders' }))).Table!.SSEDescription).toBeUndefined();
  });
});

describe('point-in-time recovery', () => {
  it('is off until UpdateContinuousBackups turns it on, per table, and off again', async () => {
    const describe = (t: string) => client().send(new DescribeContinuousBackupsCommand({ TableName: t }));
    expect((await describe('tenant7-orders')).ContinuousBackupsDescription).toEqual({
      ContinuousBackupsStatus: 'ENABLED',
      PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'DISABLED' },
    });
    const on = await client().send(new UpdateContinuousBackupsCommand({ TableName: 'tenant7-orders', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
    expect(on.ContinuousBackupsDescription!.PointInTimeRecoveryDescription).toMatchObject({ PointInTimeRecoveryStatus: 'ENABLED', RecoveryPeriodInDays: 35 });
    expect(on.ContinuousBackupsDescription!.PointInTimeRecoveryDescription!.EarliestRestorableDateTime).toBeInstanceOf(Date);
    expect((await describe('tenant7-orders')).ContinuousBackupsDescription!.PointInTimeRecoveryDescription!.PointInTimeRecoveryStatus).toBe('ENABLED');
    // Control: the other table's stays off.
    expect((await describe('tenant8-orders')).ContinuousBackupsDescription!.PointInTimeRecoveryDescription!.PointInTimeRecoveryStatus).toBe('DISABLED');
    await client().send(new UpdateContinuousBackupsCommand({ TableName: 'tenant8-orders', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
    await client().send(new UpdateContinuousBackupsCommand({ TableName: 'tenant8-orders', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false } }));
    expect((await describe('tenant8-orders')).ContinuousBackupsDescription!.PointInTimeRecoveryDescription!.PointInTimeRecoveryStatus).toBe('DISABLED');
  });

  it('answers TableNotFoundException for a table that does not exist', async () => {
    await expect(client().send(new DescribeContinuousBackupsCommand({ TableName: 'tenant9-orders' }))).rejects.toMatchObject({ name: 'TableNotFoundException', $metadata: { httpStatusCode: 400 } });
  });
});

describe('on-demand backups', () => {
  let backupArn: string;

  it('CreateBackup writes the items owner-only under <dataDir>/backups and answers BackupDetails; DescribeBackup describes it', async () => {
    for (const orderId of ['o1', 'o2', 'o3']) {
      await client().send(new PutItemCommand({ TableName: 'tenant7-orders', Item: { userId: { S: 'u1' }, orderId: { S: orderId } } }));
    }
    const { BackupDetails } = await client().send(new CreateBackupCommand({ TableName: 'tenant7-orders', BackupName: 'before-delete' }));
    backupArn = BackupDetails!.BackupArn!;
    expect(backupArn).toMatch(new RegExp(`^arn:aws:dynamodb:us-east-1:${iam.location.accountId}:table/tenant7-orders/backup/\\d{14}-[0-9a-f]{8}$`));
    expect(BackupDetails).toMatchObject({ BackupName: 'before-delete', BackupStatus: 'AVAILABLE', BackupType: 'USER' });
    expect(BackupDetails!.BackupCreationDateTime).toBeInstanceOf(Date);
    const files = await readdir(path.join(dataDir, BACKUPS_DIR));
    expect(files).toEqual([`tenant7-orders-${backupArn.split('/').pop()}.json`]);
    const file = path.join(dataDir, BACKUPS_DIR, files[0]!);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(file, 'utf8')) as { items: { orderId: { S: string } }[] };
    expect(saved.items.map((i) => i.orderId.S).sort()).toEqual(['o1', 'o2', 'o3']);
    const described = await client().send(new DescribeBackupCommand({ BackupArn: backupArn }));
    expect(described.BackupDescription).toMatchObject({
      BackupDetails: { BackupArn: backupArn, BackupStatus: 'AVAILABLE' },
      SourceTableDetails: { TableName: 'tenant7-orders', ItemCount: 3, BillingMode: 'PAY_PER_REQUEST' },
    });
  });

  it('a backup outlives its table; an unknown backup is BackupNotFoundException', async () => {
    await client().send(new DeleteTableCommand({ TableName: 'tenant7-orders' }));
    await expect(client().send(new DescribeTableCommand({ TableName: 'tenant7-orders' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(client().send(new DescribeBackupCommand({ BackupArn: backupArn }))).resolves.toMatchObject({ BackupDescription: { BackupDetails: { BackupArn: backupArn } } });
    await expect(client().send(new DescribeBackupCommand({ BackupArn: `${backupArn.slice(0, -8)}00000000` }))).rejects.toMatchObject({ name: 'BackupNotFoundException' });
    // A table of the same name, created again, starts without the old one's recovery setting.
    await client().send(new CreateTableCommand(ordersTable('tenant7-orders')));
    expect((await client().send(new DescribeContinuousBackupsCommand({ TableName: 'tenant7-orders' }))).ContinuousBackupsDescription!.PointInTimeRecoveryDescription!.PointInTimeRecoveryStatus).toBe(
      'DISABLED',
    );
  });

  it('keeps encryption, recovery settings and backups across a restart', async () => {
    await client().send(new UpdateContinuousBackupsCommand({ TableName: 'tenant7-orders', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
    await stop();
    await start();
    expect((await client().send(new DescribeTableCommand({ TableName: 'tenant7-orders' }))).Table!.SSEDescription?.Status).toBe('ENABLED');
    expect((await client().send(new DescribeContinuousBackupsCommand({ TableName: 'tenant7-orders' }))).ContinuousBackupsDescription!.PointInTimeRecoveryDescription!.PointInTimeRecoveryStatus).toBe(
      'ENABLED',
    );
    await expect(client().send(new DescribeBackupCommand({ BackupArn: backupArn }))).resolves.toMatchObject({ BackupDescription: { SourceTableDetails: { ItemCount: 3 } } });
  });
});

describe('IAM on table management', () => {
  it('the operator may manage any tenant orders table and describe its backups, no other table; a task role none', async () => {
    const denied = { name: 'AccessDeniedException' };
    await expect(client().send(new CreateTableCommand(ordersTable('not-an-orders-table')))).rejects.toMatchObject(denied);
    await expect(client().send(new DeleteTableCommand({ TableName: 'tenant-config' }))).rejects.toMatchObject(denied);
    await expect(client('invoke-agent').send(new CreateBackupCommand({ TableName: 'tenant7-orders', BackupName: 'x-by-task' }))).rejects.toMatchObject(denied);
    await expect(client('validate-context').send(new UpdateContinuousBackupsCommand({ TableName: 'tenant7-orders', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false } }))).rejects.toMatchObject(denied);
    await expect(client('invoke-agent').send(new DescribeBackupCommand({ BackupArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/tenant7-orders/backup/01234567890123-abcdef01' }))).rejects.toMatchObject(denied);
    // Controls: the operator creates and deletes a tenant's orders table it was never told about.
    await expect(client().send(new CreateTableCommand(ordersTable('tenant42-orders')))).resolves.toBeDefined();
    await expect(client().send(new DeleteTableCommand({ TableName: 'tenant42-orders' }))).resolves.toBeDefined();
  });
});
