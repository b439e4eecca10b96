/**
 * A crash while the final publishing task runs, after AppSync accepted its terminal event (recovery.ts
 * with the delivery log's answer, `deliveredEnding`): the run is recorded as it ended, SUCCEEDED for
 * a delivered DONE, FAILED for a delivered FAILED; without a delivered terminal event (or with one
 * that does not match the state's ending), it stays ABORTED.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { whereOf, type DeliveredEnding } from './recovery.ts';
import { ANSWER, readRecord, service, serviceOptions, start } from './recovery-fixture.ts';
import { StepFunctionsService, type InvokeTask } from './service.ts';

/** Answer answers (or fails); Publish never returns before the "crash" (it waits for the test's release). */
function tasks() {
  let entered!: () => void;
  const inPublish = new Promise<void>((resolve) => (entered = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const invoke: InvokeTask = async (resource, input) => {
    if (resource === ANSWER) {
      if ((input as { fail?: boolean }).fail) throw Object.assign(new Error('no answer'), { name: 'Test.Broken' });
      return { text: 'an answer' };
    }
    entered();
    await released;
    return { published: true };
  };
  return { invoke, inPublish, release };
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * Runs `input` until its publishing task (`state`) has started, with the disk frozen from then on
 * (a crash there), and starts a new service on the directory with `deliveredEnding`.
 */
async function crashInPublish(input: { answerId: string; fail?: boolean }, state: string, deliveredEnding?: DeliveredEnding) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sfn-delivered-'));
  dirs.push(dataDir);
  const t = tasks();
  const first = service(dataDir, t.invoke);
  first.freezeDiskWhen((r) => whereOf(r.events).state === state && whereOf(r.events).taskRunning === true);
  const arn = await start(first, input);
  await t.inPublish;
  // The fault is where intended: on disk, the run is RUNNING in its publishing task, which has not returned.
  expect(whereOf((await readRecord(dataDir, arn)).events)).toMatchObject({ state, taskRunning: true });
  const asked: string[] = [];
  const second = service(dataDir, t.invoke, deliveredEnding && ((text) => (asked.push(text), deliveredEnding(text))));
  const recovered = await second.waitForExecution(arn);
  const record = await readRecord(dataDir, arn);
  t.release();
  await second.stop();
  await first.stop();
  return { recovered, record, asked, aborted: second.abortedAtStart() };
}

/** What the delivery log answers: `status` for the answerId it holds, nothing for any other. */
const logHolding = (answerId: string, ending: 'SUCCEEDED' | 'FAILED'): DeliveredEnding => (input) => ((JSON.parse(input) as { answerId?: string }).answerId === answerId ? ending : undefined);

describe('a crash after AppSync accepted the terminal event, before the publishing task returned', () => {
  it('a delivered DONE: SUCCEEDED, with the state input as output (ResultPath null)', async () => {
    const input = { answerId: 'a-done' };
    const { recovered, record, asked, aborted } = await crashInPublish(input, 'Publish', logHolding('a-done', 'SUCCEEDED'));
    expect(recovered).toMatchObject({ status: 'SUCCEEDED' });
    expect(JSON.parse(recovered.output!)).toEqual({ ...input, answer: { text: 'an answer' } });
    expect(record.events.slice(-2).map((e) => e.type)).toEqual(['TaskStateExited', 'ExecutionSucceeded']);
    expect(record.events.map((e) => e.id)).toEqual(record.events.map((_, i) => i + 1));
    expect(asked).toEqual([JSON.stringify(input)]);
    expect(aborted).toEqual([]);
  });

  it('a delivered FAILED: FAILED, with the Fail state error and cause', async () => {
    const { recovered, record } = await crashInPublish({ answerId: 'a-failed', fail: true }, 'PublishFailure', logHolding('a-failed', 'FAILED'));
    expect(recovered).toMatchObject({ status: 'FAILED', error: 'Test.Broken', cause: 'no answer' });
    expect(record.events.slice(-3).map((e) => e.type)).toEqual(['TaskStateExited', 'FailStateEntered', 'ExecutionFailed']);
  });

  it('control: nothing delivered for this answer: ABORTED, naming the state, and listed for the slot release', async () => {
    const { recovered, asked, aborted } = await crashInPublish({ answerId: 'a-cut' }, 'Publish', logHolding('another-answer', 'SUCCEEDED'));
    expect(asked).toHaveLength(1);
    expect(recovered).toMatchObject({ status: 'ABORTED', error: 'States.Runtime', cause: expect.stringMatching(/^the local stack stopped while this run was in state Publish \(its task had started/) });
    expect(aborted).toEqual([{ executionArn: recovered.executionArn, input: JSON.stringify({ answerId: 'a-cut' }) }]);
  });

  it('control: a delivered event whose status is not the ending of the state (FAILED logged, run in Publish): ABORTED', async () => {
    const { recovered } = await crashInPublish({ answerId: 'a-other' }, 'Publish', logHolding('a-other', 'FAILED'));
    expect(recovered.status).toBe('ABORTED');
  });

  it('control: no delivery log at all (in-memory AppSync): ABORTED', async () => {
    const { recovered } = await crashInPublish({ answerId: 'a-none' }, 'Publish');
    expect(recovered.status).toBe('ABORTED');
  });
});

describe('a graceful stop while the publishing task runs, after AppSync accepted the terminal event', () => {
  async function stopInPublish(deliveredEnding: DeliveredEnding | undefined, release: boolean, shutdownGraceMs?: number) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sfn-delivered-stop-'));
    dirs.push(dataDir);
    const t = tasks();
    const svc = new StepFunctionsService({ ...serviceOptions(dataDir, t.invoke, deliveredEnding), ...(shutdownGraceMs === undefined ? {} : { shutdownGraceMs }) });
    const arn = await start(svc, { answerId: 'u.a1' });
    await t.inPublish;
    const stopped = svc.stop();
    if (release) t.release();
    await stopped;
    t.release();
    return (await readRecord(dataDir, arn)).status;
  }

  it('a delivered DONE: the run is let finish and is recorded SUCCEEDED, not ABORTED', async () => {
    expect(await stopInPublish(logHolding('u.a1', 'SUCCEEDED'), true)).toBe('SUCCEEDED');
  });

  it('control: nothing delivered for this answer: ABORTED at once, as before', async () => {
    expect(await stopInPublish(logHolding('u.other', 'SUCCEEDED'), true)).toBe('ABORTED');
    expect(await stopInPublish(undefined, true)).toBe('ABORTED');
  });

  it('control: a delivered run whose task does not return within the grace is ABORTED (the stop is bounded)', async () => {
    expect(await stopInPublish(logHolding('u.a1', 'SUCCEEDED'), false, 50)).toBe('ABORTED');
  });
});
