/**
 * The crash suite (issue 19): `npm start`'s entry as a separate process, killed with SIGKILL at named
 * points and started again on the same data directory, which must then hold everything that was
 * acknowledged and answer questions. One data directory lives through the whole timeline below, as a
 * newcomer's `.data/` would: killed four times during the first start's seeding (after the config
 * table, between two tenants, in the middle of a user's orders, stopped with Ctrl-C between two
 * users), then right after writes (a first sign-in's new password, an order), then with questions in
 * flight. The seeding kill points are reached deterministically: LOCAL_STACK_PAUSE_AT makes the
 * start print `paused at <step>` and wait there; the test kills it once it has read that line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, describe, expect, it } from 'vitest';
import { AssistantApi, type AnswerEvent } from '../client/api.ts';
import { signIn } from '../client/auth.ts';
import { askCommand } from '../client/cli/ask.ts';
import { principalConfig, readLocalEnv, readLocalUsers } from '../client/cli/targets.ts';
import { ordersCommand } from '../infra/local/cli/orders.ts';
import type { RealtimeConnection } from '../client/realtime.ts';
import { runCommand } from './cli-helpers.ts';

const SEED_ORDERS = 30;
const USERS = ['tenant1-user', 'tenant1-user2', 'tenant2-user', 'tenant3-user'];
const POLICY_DAYS: Record<string, number> = { 'tenant1-user': 10, 'tenant1-user2': 10, 'tenant2-user': 20, 'tenant3-user': 30 };

const dirs: string[] = [];
const running: ChildProcess[] = [];
afterAll(async () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: { stdout: string; stderr: string };
}

/** Starts `npm start`'s entry on `dataDir`; resolves once stdout has a line matching `until` (rejects if it exits first). */
async function start(dataDir: string, until: RegExp, options: { args?: string[]; pauseAt?: string } = {}): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env, EDGE_PORT: '0', PORT: '0' };
  delete env.LOCAL_STACK_PAUSE_AT;
  if (options.pauseAt) env.LOCAL_STACK_PAUSE_AT = options.pauseAt;
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts', '--data-dir', dataDir, ...(options.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  const output = { stdout: '', stderr: '' };
  child.stderr!.on('data', (c: Buffer) => (output.stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      output.stdout += c.toString();
      if (until.test(output.stdout)) resolve();
    });
    void exited.then(({ code, signal }) => reject(new Error(`exited (${code ?? signal}) before ${until}:\n${output.stdout}\n${output.stderr}`)));
  });
  return { child, exited, output };
}

/** kill -9, and wait until the process is gone. */
async function kill9(stack: Started): Promise<void> {
  stack.child.kill('SIGKILL');
  expect((await stack.exited).signal).toBe('SIGKILL');
}

/** `npm run ask` in-process against the running stack of `dataDir` (signs in, saving a first password). */
async function ask(dataDir: string, username: string, question: string): Promise<string> {
  const result = await runCommand(askCommand, ['--data-dir', dataDir, '--user', username, question], {});
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

async function stackJson(dataDir: string): Promise<{ seeded?: { tenants: string[]; users: string[] }; seeding?: unknown }> {
  return JSON.parse(await readFile(path.join(dataDir, 'stack.json'), 'utf8')) as { seeded?: { tenants: string[]; users: string[] }; seeding?: unknown };
}

/**
 * The stack of `dataDir` answers every seed user's (or `users`') two questions: their store's return policy, and
 * their own orders: as many as `orders` holds, each listed one among them (the answer may be cut short).
 */
async function answersEveryone(dataDir: string, orders: Record<string, readonly string[]>, users: readonly string[] = USERS): Promise<void> {
  for (const username of users) {
    expect(await ask(dataDir, username, "What's your return policy?")).toContain(`You can return items within ${POLICY_DAYS[username]} days.`);
    const listed = await ask(dataDir, username, 'Which orders did I place?');
    expect(listed).toContain(`You have ${orders[username]!.length} orders:`);
    const ids = [...listed.matchAll(/^- (ord-\S+):/gm)].map((m) => m[1]!);
    expect(ids.length, username).toBeGreaterThan(0);
    for (const id of ids) expect(orders[username], username).toContain(id);
  }
}

async function ordersOf(dataDir: string, username: string): Promise<string[]> {
  return (await ordersCommand(readLocalEnv(dataDir), username, 'list')).orders.map((o) => o.orderId).sort();
}

describe('crash suite: kill -9 at named points, restart, check the invariants', () => {
  let dataDir = '';
  // What was acknowledged before each kill, checked after the restart.
  const orders: Record<string, string[]> = {};
  const delivered: { executionArn: string; answerId: string }[] = [];
  let restarted: Started | undefined;

  it('a first start killed after the config table, between two tenants, mid-orders, and stopped by Ctrl-C between two users: the next start completes the seeding', { timeout: 240_000 }, async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-crash-'));
    dirs.push(dataDir);
    // Killed once the config table exists (the case: no config row yet).
    await kill9(await start(dataDir, /^paused at /m, { args: ['--seed-orders', String(SEED_ORDERS)], pauseAt: 'table:tenant-config' }));
    expect((await stackJson(dataDir)).seeded).toEqual({ tenants: [], users: [] });
    // The next start goes on from there: killed once tenant1 and tenant2 are complete, tenant3 not.
    await kill9(await start(dataDir, /^paused at /m, { pauseAt: 'tenant:tenant2' }));
    expect((await stackJson(dataDir)).seeded).toEqual({ tenants: ['tenant1', 'tenant2'], users: [] });
    // Killed in the middle of tenant1-user's orders (25 of 30 written); this start has no --seed-orders: the journal keeps the plan.
    await kill9(await start(dataDir, /^paused at /m, { pauseAt: 'orders:tenant1-user:25' }));
    expect(await stackJson(dataDir)).toMatchObject({ seeded: { tenants: ['tenant1', 'tenant2', 'tenant3'], users: [] }, seeding: { orders: { 'tenant1-user': SEED_ORDERS } } });
    // Ctrl-C between two users: the start stops at once and says that the next one completes it.
    const interrupted = await start(dataDir, /^paused at /m, { pauseAt: 'user:tenant1-user2' });
    interrupted.child.kill('SIGINT');
    expect((await interrupted.exited).code).toBe(130);
    expect(interrupted.output.stderr).toContain('SIGINT during the start: stopped. The next npm start completes what this one began');
    expect((await stackJson(dataDir)).seeded!.users).toEqual(['tenant1-user', 'tenant1-user2']);

    const stack = await start(dataDir, /^ready: /m);
    try {
      expect(stack.output.stdout).toContain('seed:      added the tables, tenants and users of tasks/seed.ts that were missing');
      const state = await stackJson(dataDir);
      expect(state.seeded).toEqual({ tenants: ['tenant1', 'tenant2', 'tenant3'], users: USERS });
      expect(state.seeding).toBeUndefined();
      // Every user has exactly the planned orders: none lost, none twice (tenant1-user's first 25 counted).
      for (const username of USERS) {
        orders[username] = await ordersOf(dataDir, username);
        expect(orders[username], username).toHaveLength(SEED_ORDERS);
      }
      // Every store exists and every user's orders are theirs: each user asks both questions (first sign-ins: passwords saved).
      await answersEveryone(dataDir, orders);
      // Right after a write: an order acknowledged, then kill -9.
      const added = await ordersCommand(readLocalEnv(dataDir), 'tenant1-user2', 'add');
      orders['tenant1-user2']!.push(added.orders[0]!.orderId);
    } finally {
      await kill9(stack);
    }
  });

  it('killed right after writes (first sign-in passwords, an order): after the restart the order is there and the saved passwords sign in', { timeout: 120_000 }, async () => {
    expect(dataDir).not.toBe('');
    const stack = await start(dataDir, /^ready: /m);
    try {
      expect(stack.output.stdout).toContain('seed:      existing data kept');
      expect(await ordersOf(dataDir, 'tenant1-user2')).toEqual([...orders['tenant1-user2']!].sort());
      // The passwords the first sign-ins saved (local-users.json) still sign in: the pool kept them too.
      const saved = await readLocalUsers(dataDir);
      for (const username of USERS) expect(saved.users.find((u) => u.username === username)).toMatchObject({ password: expect.any(String) });
      await answersEveryone(dataDir, orders);
    } finally {
      await kill9(stack);
    }
  });

  it('killed with questions in flight and orders being added: after the restart every acknowledged order is there and the stack answers', { timeout: 180_000 }, async () => {
    expect(dataDir).not.toBe('');
    const stack = await start(dataDir, /^ready: /m);
    const env = readLocalEnv(dataDir);
    const saved = await readLocalUsers(dataDir);
    const connections: RealtimeConnection[] = [];
    let stopAdding = false;
    try {
      const apis = await Promise.all(
        ['tenant1-user', 'tenant2-user'].map(async (username) => {
          const password = saved.users.find((u) => u.username === username)!.password!;
          const tokens = await signIn({ region: env.region, clientId: env.userPool.clientId, endpoint: env.endpoints.edge }, username, password);
          const api = new AssistantApi({ graphqlUrl: env.endpoints.graphql, realtimeUrl: env.endpoints.realtime, idToken: tokens.idToken });
          const connection = await api.connect({ onConnectionError: () => undefined });
          connections.push(connection);
          return { api, connection };
        }),
      );
      // Orders added one at a time while questions run (at most 15: the answer lists 50), each acknowledged one recorded.
      const adding = (async () => {
        for (let i = 0; i < 15 && !stopAdding; i++) {
          const added = await ordersCommand(env, 'tenant3-user', 'add').catch(() => undefined);
          if (!added) return;
          orders['tenant3-user']!.push(added.orders[0]!.orderId);
        }
      })();
      // 24 questions, 8 in flight; the stack is killed when the 6th DONE arrives, with others still running.
      const killAt = 6;
      let done = 0;
      let killed!: () => void;
      const killTime = new Promise<void>((resolve) => (killed = resolve));
      const questions = Array.from({ length: 24 }, (_, i) => i);
      let next = 0;
      const worker = async () => {
        while (next < questions.length) {
          const i = next++;
          const { api, connection } = apis[i % apis.length]!;
          await api
            .ask(i % 2 === 0 ? "What's your return policy?" : 'Which orders did I place?', {
              connection,
              onEvent: (e: AnswerEvent) => {
                if (e.status === 'DONE' && ++done === killAt) killed();
              },
            })
            .then((r) => {
              if (r.final.status === 'DONE') delivered.push({ executionArn: r.executionId, answerId: r.answerId });
            })
            .catch(() => undefined);
        }
      };
      const workers = Array.from({ length: 8 }, worker);
      await killTime;
      stack.child.kill('SIGKILL');
      stopAdding = true;
      await Promise.all([...workers, adding]);
      expect((await stack.exited).signal).toBe('SIGKILL');
      expect(delivered.length).toBeGreaterThanOrEqual(killAt - 1);
      // Questions were cut off: not all 24 answered.
      expect(delivered.length).toBeLessThan(questions.length);
    } finally {
      stopAdding = true;
      for (const c of connections) c.close();
      if (stack.child.exitCode === null && stack.child.signalCode === null) await kill9(stack);
    }

    // The restarted stack stays up for the next test (stopped there, or by afterAll).
    restarted = await start(dataDir, /^ready: /m);
    expect(await ordersOf(dataDir, 'tenant3-user')).toEqual([...orders['tenant3-user']!].sort());
    // The users whose questions were not cut off ask both questions (those whose were: next test).
    await answersEveryone(dataDir, orders, ['tenant1-user2', 'tenant3-user']);
  });

  // Depends on the recovery of the runs a kill cut off (issue 19 point 3, helper C's durable execution
  // records): today a record written after its DONE was published can be lost with the process, and the
  // restart marks the run ABORTED (2 of 6 delivered answers in the runs made while writing this); and the
  // cut-off runs keep their admission slots until the slots expire (10 minutes), so their askers are
  // refused "Throttled" after the restart. The lead flips this to `it` once C's branch is merged.
  it.fails('after the restart, every answer the asker received before the kill is recorded as SUCCEEDED, and the askers whose questions were cut off can ask at once', { timeout: 60_000 }, async () => {
    expect(delivered.length).toBeGreaterThan(0);
    expect(restarted).toBeDefined();
    const sfn = new SFNClient(principalConfig(readLocalEnv(dataDir), 'operator'));
    try {
      const statuses: Record<string, string | undefined> = {};
      for (const { executionArn } of delivered) statuses[executionArn] = (await sfn.send(new DescribeExecutionCommand({ executionArn }))).status;
      expect(Object.entries(statuses).filter(([, status]) => status !== 'SUCCEEDED')).toEqual([]);
      await answersEveryone(dataDir, orders, ['tenant1-user', 'tenant2-user']);
    } finally {
      sfn.destroy();
      restarted!.child.kill('SIGTERM');
      expect((await restarted!.exited).code).toBe(0);
    }
  });
});
