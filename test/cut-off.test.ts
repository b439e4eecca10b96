/**
 * An answer cut off by a stack that stops mid-answer: `npm run ask` (the script itself, spawned)
 * names the answer, its execution and how to follow it up, instead of a bare RealtimeError (1006);
 * the run is recorded ABORTED with the state it was in, and `npm run executions -- replay` replays
 * it from its own input after a restart (it never reached RecordFailure, so the runs table has no
 * record of it). Control: a run that answered is not replayed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, runCommand } from './cli-helpers.ts';
import { executionsCommand } from '../client/cli/executions.ts';
import { EXIT_CUT_OFF } from '../client/cli/ask.ts';
import { writeLocalEnv } from '../client/cli/targets.ts';
import { localEnvOf } from '../infra/local/local-env.ts';
import { writeLocalUsers } from '../infra/local/services/cognito/service.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import type { AgentRuntime } from '../tasks/agent-runtime.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** An agent that holds every answer until released, and says when one arrived. */
function heldAgent() {
  let arrived!: () => void;
  const entered = new Promise<void>((resolve) => (arrived = resolve));
  const waiting: (() => void)[] = [];
  const agent: AgentRuntime = {
    memory: 'agent-session',
    ask: () => {
      arrived();
      return new Promise((resolve) => waiting.push(() => resolve({ text: 'too late', toolCalls: 0 })));
    },
  };
  return { agent, entered, release: () => waiting.splice(0).forEach((w) => w()) };
}

async function ready(stack: LocalStack, dataDir: string): Promise<void> {
  await writeLocalEnv(localEnvOf(stack, true), dataDir);
  await writeLocalUsers(dataDir, stack.cognito);
}

describe('an answer cut off by a stack that stops mid-answer', () => {
  it('npm run ask names the answer and its execution; the run is ABORTED in InvokeAgent and replays after a restart', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'assistant-cutoff-'));
    dirs.push(dataDir);
    const held = heldAgent();
    const first = await startLocalStack({ port: 0, dataDir, retryIntervalOverrides: 0, taskOverrides: { 'invoke-agent': { agent: held.agent } } });
    let second: LocalStack | undefined;
    try {
      await ready(first, dataDir);
      const asking = runCli('client/cli/ask.ts', ['--data-dir', dataDir, '--user', 'tenant1-user', "What's your return policy?"]);
      await held.entered;
      const stopping = first.stop();
      held.release();
      await stopping;
      const out = await asking;

      expect(out.code).toBe(EXIT_CUT_OFF);
      expect(out.stdout).toBe('');
      expect(out.stderr).toMatch(/^The answer was cut off: The realtime connection closed \(\d+.*\), before its DONE or FAILED event arrived\.$/m);
      const answerId = /^ {2}answer: +(\S+)$/m.exec(out.stderr)?.[1];
      const arn = /^ {2}execution: +(arn:aws:states:\S+)$/m.exec(out.stderr)?.[1];
      expect(answerId).toMatch(new RegExp(`^${first.user('tenant1-user').sub}\\.`));
      expect(arn).toBeDefined();
      expect(out.stderr).toMatch(/^ {2}last event: PROGRESS \(seq \d+, .+\)$/m);
      expect(out.stderr).toContain(`npm run executions -- show ${arn}`);
      expect(out.stderr).toContain(`npm run executions -- replay ${arn}`);
      expect(out.stderr).toContain(`npm run ask -- --user tenant1-user "What's your return policy?"`);
      expect(out.stderr).not.toMatch(/^RealtimeError/m);

      second = await startLocalStack({ port: 0, dataDir, retryIntervalOverrides: 0 });
      await ready(second, dataDir);
      expect(await second.states.waitForExecution(arn!)).toMatchObject({
        status: 'ABORTED',
        error: 'States.Runtime',
        cause: expect.stringMatching(/^the local stack stopped while this run was in state InvokeAgent/),
      });
      const replayed = await runCommand(executionsCommand, ['--data-dir', dataDir, 'replay', arn!], {});
      expect(replayed).toMatchObject({ code: 0, stderr: '' });
      expect(replayed.stdout).toContain("identity and request from the stopped run's own input; validated again");
      const replayArn = /^Started (\S+)$/m.exec(replayed.stdout)?.[1];
      expect(replayArn).toBeDefined();
      const replay = await second.states.waitForExecution(replayArn!);
      expect(replay).toMatchObject({ status: 'SUCCEEDED' });
      expect(JSON.parse(replay.input)).toMatchObject({ replayOf: arn, identity: { tenantId: 'tenant1' }, request: { question: "What's your return policy?" } });

      // Control: a run that answered is not replayed (nothing is started).
      const again = await runCommand(executionsCommand, ['--data-dir', dataDir, 'replay', replayArn!], {});
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`${replayArn} cannot be replayed: it answered (SUCCEEDED).`);
    } finally {
      held.release();
      await first.stop().catch(() => undefined);
      await second?.stop();
    }
  });
});
