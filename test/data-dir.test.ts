/**
 * The data directory (issue 19, points 1, 4, 5): one stack per directory (a second start names the
 * running one and touches no file; a stale lock is taken over); an identity file missing under live
 * data refuses the start instead of orphaning the orders; a damaged file refuses the start with a
 * message that names it, says what is wrong and the way out. Each refusal has a control that starts.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDirInUseError, LOCK_FILE, lockDataDir } from '../infra/local/data-dir-lock.ts';
import { DataFileError, storeFailure } from '../infra/local/data-files.ts';
import { localEnvOf } from '../infra/local/local-env.ts';
import { ordersCommand } from '../infra/local/cli/orders.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import type { Logger } from '../infra/local/edge/log.ts';
import type { AgentRuntime } from '../tasks/agent-runtime.ts';
import { ask, recordEvents, run, workflowInput } from './workflow-helpers.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(name: string): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), `assistant-${name}-`));
  dirs.push(d);
  return d;
}

/** Every file under `dir` (relative path -> sha256 of its bytes). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, file)] = createHash('sha256').update(await readFile(file)).digest('hex');
  }
  return out;
}

/** Waits until the stack's state files are written (sign-ins, execution records, secrets). */
async function quiet(stack: LocalStack): Promise<void> {
  await stack.states.flush();
  await stack.cognito.flush();
  await stack.secrets.flush();
}

/** Starts `npm start`'s entry on `dataDir`: `ready` is true once it prints `ready:`, false if it exits first. */
function startProcess(dataDir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', '--data-dir', dataDir], {
    env: { ...process.env, EDGE_PORT: '0', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const ready = new Promise<boolean>((resolve) => {
    child.stdout.on('data', (c: Buffer) => {
      out.stdout += c.toString();
      if (/^ready: /m.test(out.stdout)) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  child.stderr.on('data', (c: Buffer) => (out.stderr += c.toString()));
  return { child, ready, exited, out };
}

/** Runs `npm start`'s entry on `dataDir` until it exits or prints `ready:` (then stops it with SIGTERM). */
async function npmStart(dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const started = startProcess(dataDir);
  if (await started.ready) started.child.kill('SIGTERM');
  const code = await started.exited;
  return { code, ...started.out };
}

const ORDERS_QUESTION = 'Which orders did I place?';

/** Answers at once, except a question with 'hold' in it: that one waits until the test releases it. */
function holdingAgent() {
  const held: (() => void)[] = [];
  let called: () => void;
  const holding = new Promise<void>((resolve) => (called = resolve));
  const agent: AgentRuntime = {
    memory: 'agent-session',
    ask: (turn, _callTool, onText) => {
      if (turn.question.includes('hold')) {
        called();
        return new Promise((resolve) =>
          held.push(() => {
            onText('Held, then answered.');
            resolve({ text: 'Held, then answered.', toolCalls: 0 });
          }),
        );
      }
      onText('Returns are accepted.');
      return Promise.resolve({ text: 'Returns are accepted.', toolCalls: 0 });
    },
  };
  return { agent, holding, release: () => held.splice(0).forEach((r) => r()) };
}

// Each of these starts npm start as a process (a few seconds each; more on a busy machine).
describe('one stack per data directory', { timeout: 120_000 }, () => {
  it('a second start names the running stack (pid, ports) and exits 1 without touching a file; the running stack still answers', async () => {
    const dataDir = await tempDir('lock');
    const agent = holdingAgent();
    const first = await startLocalStack({ port: 0, dataDir, retryIntervalOverrides: 0, taskOverrides: { 'invoke-agent': { agent: agent.agent } } });
    try {
      const events = recordEvents(first);
      const before = await ask(first, events, 'tenant1-user', "What's your return policy?");
      expect(before.status).toBe('SUCCEEDED');
      // One execution in flight while the second start runs: its record says RUNNING.
      const inFlight = run(first, events, workflowInput(first, 'tenant1-user2', 'Please hold this question'));
      await agent.holding;
      await quiet(first);
      const files = await snapshot(dataDir);
      expect(Object.keys(files)).toContain(LOCK_FILE);
      const records = await Promise.all(Object.keys(files).filter((f) => f.startsWith('executions')).map(async (f) => JSON.parse(await readFile(path.join(dataDir, f), 'utf8')) as { status: string }));
      expect(records.map((r) => r.status).sort()).toEqual(['RUNNING', 'SUCCEEDED']);

      // In-process: refused before anything is read.
      const inProcess = startLocalStack({ port: 0, dataDir });
      await expect(inProcess).rejects.toBeInstanceOf(DataDirInUseError);
      await expect(inProcess).rejects.toThrow(`pid ${process.pid} (edge ${first.edgeUrl}, GraphQL ${first.graphqlUrl}`);
      // npm start: the same refusal, exit 1, no stack trace.
      const second = await npmStart(dataDir);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`${dataDir} is in use by another local stack: pid ${process.pid} (edge ${first.edgeUrl}, GraphQL ${first.graphqlUrl} and ${first.graphqlHttpsUrl};`);
      expect(second.stderr).toContain('Nothing in it was read or changed');
      expect(second.stderr).not.toMatch(/^\s+at /m);
      expect(second.stdout).not.toContain('ready:');

      // Nothing was touched: same files, same bytes (the running execution's record is not rewritten as ABORTED).
      expect(await snapshot(dataDir)).toEqual(files);
      // And the running stack still answers: the held run ends DONE, and a new question too.
      agent.release();
      expect((await inFlight).events).toEqual([expect.objectContaining({ status: 'DONE', text: 'Held, then answered.' })]);
      const after = await ask(first, events, 'tenant1-user', "What's your return policy?");
      expect(after.events).toEqual([expect.objectContaining({ status: 'DONE', text: 'Returns are accepted.' })]);
    } finally {
      await first.stop();
    }
    // Control: once the first stops, its lock is gone and the directory starts again.
    expect((await readdir(dataDir)).includes(LOCK_FILE)).toBe(false);
    const again = await npmStart(dataDir);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('existing data kept');
    expect(again.stdout).not.toContain('took over');
  });

  it('takes over a stale lock (its process is gone) and says so; a lock of a live process refuses (control)', async () => {
    const dataDir = await tempDir('stale');
    const gone = spawn(process.execPath, ['-e', '']);
    const gonePid = gone.pid!;
    await new Promise((resolve) => gone.on('exit', resolve));
    const stale = { pid: gonePid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', edge: 'http://127.0.0.1:1' };
    await writeFile(path.join(dataDir, LOCK_FILE), JSON.stringify(stale));
    const logged: { msg: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = { log: (_level, msg, fields) => logged.push({ msg, ...(fields ? { fields } : {}) }) };
    const stack = await startLocalStack({ port: 0, dataDir, logger });
    try {
      expect(stack.dataDirLock?.tookOverFrom).toEqual(stale);
      expect(logged).toContainEqual({ msg: 'stack.stale_lock_taken_over', fields: expect.objectContaining({ pid: gonePid }) });
      const lock = JSON.parse(await readFile(path.join(dataDir, LOCK_FILE), 'utf8')) as Record<string, unknown>;
      expect(lock).toMatchObject({ pid: process.pid, host: hostname(), edge: stack.edgeUrl, graphql: stack.graphqlUrl });
    } finally {
      await stack.stop();
    }

    // Control: the lock of a live process is not stale.
    const liveDir = await tempDir('live');
    const live = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    try {
      await writeFile(path.join(liveDir, LOCK_FILE), JSON.stringify({ ...stale, pid: live.pid }));
      const files = await snapshot(liveDir);
      await expect(startLocalStack({ port: 0, dataDir: liveDir })).rejects.toThrow(`in use by another local stack: pid ${live.pid} (edge http://127.0.0.1:1; started 2026-01-01T00:00:00.000Z)`);
      expect(await snapshot(liveDir)).toEqual(files);
    } finally {
      live.kill();
    }
  });

  it('a stack killed with kill -9 leaves its lock: the next npm start takes it over, says so, and keeps the data', async () => {
    const dataDir = await tempDir('killed');
    const first = startProcess(dataDir);
    expect(await first.ready).toBe(true);
    const lock = JSON.parse(await readFile(path.join(dataDir, LOCK_FILE), 'utf8')) as { pid: number; startedAt: string; edge: string };
    expect(lock.pid).toBe(first.child.pid);
    expect(first.out.stdout).toContain(`ready: edge ${lock.edge}`);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(await readdir(dataDir)).toContain(LOCK_FILE);

    const second = await npmStart(dataDir);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`lock:      took over ${path.join(dataDir, LOCK_FILE)} from pid ${lock.pid} (started ${lock.startedAt}), which is no longer running`);
    expect(second.stdout).toContain('existing data kept');
    expect(await readdir(dataDir)).not.toContain(LOCK_FILE);
  });

  it('a lock file that is not one of ours is reported as such, with the way out (control: a valid one is taken)', async () => {
    const dataDir = await tempDir('badlock');
    await writeFile(path.join(dataDir, LOCK_FILE), 'garbage');
    expect(() => lockDataDir(dataDir)).toThrow(DataFileError);
    expect(() => lockDataDir(dataDir)).toThrow(`${path.join(dataDir, LOCK_FILE)}: it is not a lock this stack wrote`);
    await rm(path.join(dataDir, LOCK_FILE));
    const lock = lockDataDir(dataDir);
    expect(() => lockDataDir(dataDir)).toThrow(DataDirInUseError);
    lock.release();
    lockDataDir(dataDir).release();
  });
});

describe('identity that cannot be silently replaced', { timeout: 120_000 }, () => {
  it('refuses to start when stack.json is missing under live data, touching nothing; restored, the user finds their orders (control)', async () => {
    const dataDir = await tempDir('identity');
    const first = await startLocalStack({ port: 0, dataDir, retryIntervalOverrides: 0 });
    let orderIds: string[];
    try {
      orderIds = (await ordersCommand(localEnvOf(first, true), 'tenant1-user', 'add', 2)).orders.map((o) => o.orderId);
    } finally {
      await first.stop();
    }
    const stackFile = path.join(dataDir, 'stack.json');
    await rename(stackFile, `${stackFile}.bak`);
    const files = await snapshot(dataDir);
    const refused = startLocalStack({ port: 0, dataDir });
    await expect(refused).rejects.toBeInstanceOf(DataFileError);
    await expect(refused).rejects.toThrow(
      `${stackFile}: missing, while the directory holds data of an earlier start (cognito.json, dynamodb-tables.json, dynamodb/). stack.json holds the users' ids`,
    );
    await expect(refused).rejects.toThrow('Way out: restore stack.json from a backup of this directory (the rest is intact), or move the data directory aside');
    // Nothing was made anew: no stack.json, no changed pool, no lock left behind.
    expect(await snapshot(dataDir)).toEqual(files);

    await rename(`${stackFile}.bak`, stackFile);
    const second = await startLocalStack({ port: 0, dataDir, retryIntervalOverrides: 0 });
    try {
      expect(second.seeded).toBe(false);
      const answer = await ask(second, recordEvents(second), 'tenant1-user', ORDERS_QUESTION);
      expect(answer.events).toHaveLength(1);
      for (const id of orderIds) expect(answer.events[0]!.text).toContain(id);
    } finally {
      await second.stop();
    }
  });
});

describe('an interrupted first start is not mistaken for lost identity', () => {
  it('a first start that fails after the pool was written (its port is taken) leaves stack.json, and the next start carries on', async () => {
    const dataDir = await tempDir('first-failed');
    const busy = await startLocalStack({ port: 0 });
    try {
      const port = Number(new URL(busy.edgeUrl).port);
      await expect(startLocalStack({ port, appsyncPort: 0, dataDir })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await busy.stop();
    }
    const left = await readdir(dataDir);
    expect(left).toEqual(expect.arrayContaining(['cognito.json', 'stack.json']));
    expect(left).not.toContain(LOCK_FILE);
    const users = (JSON.parse(await readFile(path.join(dataDir, 'stack.json'), 'utf8')) as { users: { sub: string }[] }).users;
    const next = await startLocalStack({ port: 0, dataDir, retryIntervalOverrides: 0 });
    try {
      expect(next.users.map((u) => u.sub)).toEqual(users.map((u) => u.sub));
      const answer = await ask(next, recordEvents(next), 'tenant1-user', "What's your return policy?");
      expect(answer.events).toEqual([expect.objectContaining({ status: 'DONE', text: 'You can return items within 10 days.' })]);
    } finally {
      await next.stop();
    }
  }, 120_000);
});

describe('damaged files refuse the start with the file, what is wrong and the way out', { timeout: 120_000 }, () => {
  let intact: string;
  beforeAll(async () => {
    intact = await tempDir('intact');
    // One execution record; orders in a LevelDB table file (a restart moves the log into one) and
    // in its log (more than a block of it).
    const stack = await startLocalStack({ port: 0, dataDir: intact, seedOrdersPerUser: 30, retryIntervalOverrides: 0 });
    try {
      expect((await ask(stack, recordEvents(stack), 'tenant2-user', "What's your return policy?")).status).toBe('SUCCEEDED');
      await quiet(stack);
    } finally {
      await stack.stop();
    }
    const restarted = await startLocalStack({ port: 0, dataDir: intact });
    try {
      await ordersCommand(localEnvOf(restarted, true), 'tenant1-user', 'add', 40);
      await quiet(restarted);
    } finally {
      await restarted.stop();
    }
  }, 120_000);

  /** A copy of the intact directory with `damage` done to it. */
  async function damaged(damage: (dir: string) => Promise<void>): Promise<string> {
    const dir = await tempDir('damaged');
    await cp(intact, dir, { recursive: true });
    await damage(dir);
    return dir;
  }
  async function executionRecord(dir: string): Promise<string> {
    const [record] = (await readdir(path.join(dir, 'executions'))).filter((f) => f.endsWith('.json'));
    return path.join(dir, 'executions', record!);
  }
  /** The store's file of that kind (`.log`, `.ldb`) with the most bytes. */
  async function storeFile(dir: string, ext: string): Promise<string> {
    const files = (await readdir(path.join(dir, 'dynamodb'))).filter((f) => f.endsWith(ext)).map((f) => path.join(dir, 'dynamodb', f));
    const sizes = await Promise.all(files.map(async (f) => (await readFile(f)).length));
    expect(Math.max(...sizes)).toBeGreaterThan(4000);
    return files[sizes.indexOf(Math.max(...sizes))]!;
  }
  async function garble(file: string): Promise<void> {
    const bytes = await readFile(file);
    bytes.fill(0x5a, 200, 3200);
    await writeFile(file, bytes);
  }

  const cases: { name: string; damage: (dir: string) => Promise<void>; file: (dir: string) => Promise<string> | string; problem: string; wayOut: string }[] = [
    {
      name: 'local-users.json cut short',
      damage: async (dir) => truncate(path.join(dir, 'local-users.json'), 40),
      file: (dir) => path.join(dir, 'local-users.json'),
      problem: 'not valid JSON',
      wayOut: 'delete it: the start writes it again from the user pool',
    },
    {
      name: 'stack.json garbage',
      damage: async (dir) => writeFile(path.join(dir, 'stack.json'), '\u0000\u0000garbage'),
      file: (dir) => path.join(dir, 'stack.json'),
      problem: 'not valid JSON',
      wayOut: "restore it from a backup (the users' ids are in it)",
    },
    {
      name: 'stack.json of another shape',
      damage: async (dir) => writeFile(path.join(dir, 'stack.json'), '{"keys": {}, "kmsKeys": []}'),
      file: (dir) => path.join(dir, 'stack.json'),
      problem: 'valid JSON, but not what this stack wrote: users:',
      wayOut: 'move the data directory aside',
    },
    {
      name: 'an empty cognito.json',
      damage: async (dir) => writeFile(path.join(dir, 'cognito.json'), ''),
      file: (dir) => path.join(dir, 'cognito.json'),
      problem: 'the file is empty',
      wayOut: 'restore it from a backup, or move the data directory aside',
    },
    {
      name: 'an execution record cut short',
      damage: async (dir) => truncate(await executionRecord(dir), 100),
      file: executionRecord,
      problem: 'not valid JSON',
      wayOut: 'or move that one file out of',
    },
    {
      name: "LevelDB's CURRENT garbage",
      damage: async (dir) => writeFile(path.join(dir, 'dynamodb', 'CURRENT'), 'garbage\n'),
      file: (dir) => path.join(dir, 'dynamodb'),
      problem: 'LevelDB cannot open it',
      wayOut: `restore`,
    },
    {
      name: "LevelDB's CURRENT missing",
      damage: async (dir) => rm(path.join(dir, 'dynamodb', 'CURRENT')),
      file: (dir) => path.join(dir, 'dynamodb', 'CURRENT'),
      problem: 'missing, while the LevelDB store holds tables',
      wayOut: 'restore',
    },
    {
      name: "LevelDB's log with damaged records",
      damage: async (dir) => garble(await storeFile(dir, '.log')),
      file: (dir) => path.join(dir, 'dynamodb'),
      problem: 'LevelDB finds damaged records in it and would drop them at open',
      wayOut: 'restore',
    },
    {
      name: 'a LevelDB table file with a damaged block',
      damage: async (dir) => garble(await storeFile(dir, '.ldb')),
      file: (dir) => path.join(dir, 'dynamodb'),
      problem: 'LevelDB finds damage while reading it: Corruption:',
      wayOut: 'restore',
    },
  ];

  it('control: the intact directory starts and answers', async () => {
    const dir = await damaged(async () => undefined);
    const stack = await startLocalStack({ port: 0, dataDir: dir, retryIntervalOverrides: 0 });
    try {
      expect(stack.seeded).toBe(false);
      const answer = await ask(stack, recordEvents(stack), 'tenant2-user', ORDERS_QUESTION);
      expect(answer.events[0]!.text).not.toBe('You have not placed any orders yet.');
      expect((await ordersCommand(localEnvOf(stack, true), 'tenant1-user', 'list')).orders.length).toBe(70);
    } finally {
      await stack.stop();
    }
  });

  for (const c of cases) {
    it(`${c.name}: refused, nothing changed`, async () => {
      const dir = await damaged(c.damage);
      const files = await snapshot(dir);
      const refused = startLocalStack({ port: 0, dataDir: dir });
      await expect(refused).rejects.toBeInstanceOf(DataFileError);
      const err = (await refused.catch((e: unknown) => e)) as DataFileError;
      expect(err.file).toBe(await c.file(dir));
      expect(err.message).toContain(`${await c.file(dir)}: ${c.problem}`);
      expect(err.message).toContain(`Way out: `);
      expect(err.wayOut).toContain(c.wayOut);
      expect(await snapshot(dir)).toEqual(files);
    });
  }

  it("a damaged execution record with a complete temporary copy beside it is left to the store's recovery: the start carries on", async () => {
    let record = '';
    const dir = await damaged(async (d) => {
      record = await executionRecord(d);
      const data = JSON.parse(await readFile(record, 'utf8')) as { rev?: number };
      await writeFile(`${record}.${process.pid + 1}.${randomUUID()}.tmp`, JSON.stringify({ ...data, rev: (data.rev ?? 0) + 1 }));
      await truncate(record, 100);
    });
    const stack = await startLocalStack({ port: 0, dataDir: dir });
    try {
      expect((JSON.parse(await readFile(record.replace(intact, dir), 'utf8')) as { status: string }).status).toBe('SUCCEEDED');
    } finally {
      await stack.stop();
    }
  });

  it('npm start prints the message and exits 1, with no stack trace', async () => {
    const dir = await damaged(async (d) => truncate(path.join(d, 'local-users.json'), 40));
    const started = await npmStart(dir);
    expect(started.code).toBe(1);
    expect(started.stderr).toContain(`The local stack did not start: ${path.join(dir, 'local-users.json')}: not valid JSON`);
    expect(started.stderr).toContain('Way out: restore it from a backup, or delete it');
    expect(started.stderr).not.toMatch(/^\s+at /m);
    expect(started.stdout).not.toContain('ready:');
  });
});

describe('a LevelDB failure while the stack runs', () => {
  it('is told as the store, what LevelDB said and the way out (control: any other error is not)', () => {
    const corruption = Object.assign(new Error('Corruption: bad block type'), { code: 'LEVEL_CORRUPTION' });
    const told = storeFailure(corruption, '/srv/shop/.data');
    expect(told?.message).toBe(
      '/srv/shop/.data/dynamodb: LevelDB failed while the stack ran (Corruption: bad block type): a file of the store is damaged or was changed by another program; the stack stopped. ' +
        'Way out: restore /srv/shop/.data/dynamodb from a backup, or move the data directory aside (mv /srv/shop/.data /srv/shop/.data.damaged) and start again: the start seeds a fresh one.',
    );
    expect(storeFailure(new Error('Database is closed'), '/srv/shop/.data')).toBeInstanceOf(DataFileError);
    expect(storeFailure(new TypeError("Cannot read properties of undefined (reading 'x')"), '/srv/shop/.data')).toBeUndefined();
  });
});
