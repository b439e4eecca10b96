/**
 * `npm run orders -- <user> add --count N` stopped early (a failed write, Ctrl-C) says how many
 * orders it saved, keeps them, and exits non-zero; a run that saves all says so and exits 0.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { awsError, FAKE_CLIENT_CONFIG, fakeCredentials, scripted } from '../../../test/fake-aws.ts';
import { writeLocalEnv, type LocalEnv } from '../../../client/cli/targets.ts';
import { addOrders, partialAddMessage, PartialAddError } from './orders.ts';

const TABLE = 'tenant1-orders';

function fakeTable(puts: number, failAt?: number) {
  const dynamodb = scripted(new DynamoDBClient(FAKE_CLIENT_CONFIG));
  for (let i = 1; i <= puts; i++) dynamodb.on('PutItemCommand', i === failAt ? awsError('ProvisionedThroughputExceededException', 400) : {});
  return { dynamodb, doc: DynamoDBDocumentClient.from(dynamodb.client) };
}

async function partial(p: Promise<unknown>): Promise<PartialAddError> {
  const err = await p.then(
    () => expect.fail('expected add to stop early'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PartialAddError);
  return err as PartialAddError;
}

describe('addOrders', () => {
  it('control: saves every order asked for, reporting progress after each', async () => {
    const { dynamodb, doc } = fakeTable(100);
    const progress: number[] = [];
    const saved = await addOrders(doc, TABLE, 'sub-1', 100, { onProgress: (n, of) => (expect(of).toBe(100), progress.push(n)) });
    expect(saved).toHaveLength(100);
    expect(progress).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(dynamodb.calls.map((c) => (c.input.Item as { orderId: string }).orderId)).toEqual(saved.map((o) => o.orderId));
    dynamodb.assertDone();
  });

  it('a write failing mid-way: reports the 29 saved of 100, the failure as its cause, and writes nothing more', async () => {
    const { dynamodb, doc } = fakeTable(30, 30);
    const err = await partial(addOrders(doc, TABLE, 'sub-1', 100));
    expect(err.saved).toHaveLength(29);
    expect(err.requested).toBe(100);
    expect((err.cause as Error).name).toBe('ProvisionedThroughputExceededException');
    expect(err.message).toBe(`Saved 29 of 100 orders in ${TABLE} before a write failed (ProvisionedThroughputExceededException: ProvisionedThroughputExceededException (scripted)).`);
    expect(err.saved.map((o) => o.orderId)).toEqual(dynamodb.calls.slice(0, 29).map((c) => (c.input.Item as { orderId: string }).orderId));
    expect(partialAddMessage(err, 'tenant1-user')).toBe(
      'Saved 29 of 100 orders before a write failed: the 29 saved order(s) are kept (npm run orders -- tenant1-user list).',
    );
    dynamodb.assertDone();
  });

  it('interrupted: the order being written completes, none after it is started', async () => {
    const { dynamodb, doc } = fakeTable(29);
    const stop = new AbortController();
    const err = await partial(addOrders(doc, TABLE, 'sub-1', 100, { signal: stop.signal, onProgress: (n) => n === 29 && stop.abort() }));
    expect(err.saved).toHaveLength(29);
    expect(err.cause).toBeUndefined();
    expect(partialAddMessage(err, 'u')).toMatch(/^Saved 29 of 100 orders before it was interrupted: the 29 saved/);
    dynamodb.assertDone();
  });

  it('interrupted before the first write: nothing was saved, and it says so', async () => {
    const { dynamodb, doc } = fakeTable(0);
    const stop = new AbortController();
    stop.abort();
    const err = await partial(addOrders(doc, TABLE, 'sub-1', 5, { signal: stop.signal }));
    expect(partialAddMessage(err, 'u')).toBe('Saved 0 of 5 orders before it was interrupted: nothing was saved.');
    dynamodb.assertDone();
  });
});

// --- the CLI process, against a DynamoDB endpoint that answers PutItem and counts -------------------

/** A stand-in endpoint for the CLI: answers each PutItem with `reply(n)` (n from 1), or holds it until `release`. */
class PutEndpoint {
  puts = 0;
  private server: Server | undefined;
  onPut: (n: number, res: ServerResponse) => void = (_n, res) => PutEndpoint.ok(res);

  static ok(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
  }

  async start(): Promise<string> {
    this.server = createServer((req: IncomingMessage, res) => {
      req.resume();
      req.on('end', () => {
        if (req.headers['x-amz-target'] !== 'DynamoDB_20120810.PutItem') return void res.writeHead(400).end('{"__type":"UnknownOperationException"}');
        this.onPut(++this.puts, res);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const SCRIPT = path.resolve(import.meta.dirname, 'orders.ts');

describe('npm run orders -- <user> add --count 100 (the process)', () => {
  let dir: string;
  let endpoint: PutEndpoint;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'orders-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => endpoint.close());

  async function envFor(url: string): Promise<void> {
    const env: LocalEnv = {
      region: 'us-east-1',
      accountId: '000000000000',
      endpoints: { edge: url, graphql: `${url}/graphql`, realtime: url.replace('http', 'ws') },
      userPool: { id: 'pool', clientId: 'client' },
      persisted: true,
      tenantAccessRoleArn: 'arn:aws:iam::000000000000:role/tenant-access',
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:assistant',
      runsTable: 'runs',
      configTable: 'config',
      tablePrefix: '',
      principals: { operator: { arn: 'arn:aws:iam::000000000000:user/operator', ...fakeCredentials() } },
      users: [{ username: 'tenant1-user', tenantId: 'tenant1', sub: 'sub-1' }],
    };
    await writeLocalEnv(env, dir);
  }

  /** Runs the CLI; `onStderr` sees its standard error as it comes. */
  function run(onStderr: (text: string, child: ReturnType<typeof spawn>) => void = () => undefined) {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, 'tenant1-user', 'add', '--count', '100', '--data-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      onStderr(stderr, child);
    });
    return { child, done: new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr }))) };
  }

  it('control: saves all 100, shows progress on the way, exits 0', async () => {
    endpoint = new PutEndpoint();
    await envFor(await endpoint.start());
    const { code, stdout, stderr } = await run().done;
    expect(code).toBe(0);
    expect(endpoint.puts).toBe(100);
    expect(stdout).toContain('Added 100 order(s) of tenant1-user');
    expect(stderr).toContain('saved 10 of 100 orders...');
    expect(stderr).toContain('saved 90 of 100 orders...');
    expect(stderr).not.toContain('Saved');
  });

  it('a write failing at the 30th order: says it saved 29 of 100 and what failed, exits 1', async () => {
    endpoint = new PutEndpoint();
    endpoint.onPut = (n, res) =>
      n === 30
        ? res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' }).end('{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}')
        : PutEndpoint.ok(res);
    await envFor(await endpoint.start());
    const { code, stdout, stderr } = await run().done;
    expect(code).toBe(1);
    expect(endpoint.puts).toBe(30);
    expect(stderr).toContain('Saved 29 of 100 orders before a write failed: the 29 saved order(s) are kept (npm run orders -- tenant1-user list).');
    expect(stderr).toContain('ProvisionedThroughputExceededException: slow down');
    expect(stdout.trim().split('\n')).toHaveLength(29);
  });

  it('Ctrl-C while the 29th order is written: that one completes, none after; says 29 of 100, exits 130', async () => {
    endpoint = new PutEndpoint();
    let held: ServerResponse | undefined;
    const proc: { child?: ReturnType<typeof spawn> } = {};
    // The 29th put is held unanswered while the process is interrupted, and answered once it says it is stopping.
    endpoint.onPut = (n, res) => (n === 29 ? ((held = res), proc.child!.kill('SIGINT')) : PutEndpoint.ok(res));
    await envFor(await endpoint.start());
    const running = run((text) => {
      if (text.includes('Stopping after the order being written') && held) {
        PutEndpoint.ok(held);
        held = undefined;
      }
    });
    proc.child = running.child;
    const { child, done } = running;
    const { code, stderr } = await done;
    expect(child.signalCode).toBeNull();
    expect(code).toBe(130);
    expect(endpoint.puts).toBe(29);
    expect(stderr).toContain('Saved 29 of 100 orders before it was interrupted: the 29 saved order(s) are kept');
  });
});
