/**
 * Execution records after a crash (in-process faults; the kill -9 suite is test/crash*): the record
 * is on disk in order before each task runs and before its outcome reaches the engine, so a run
 * whose terminal event went out is recorded as it ended (SUCCEEDED, or FAILED for a FAILED event),
 * never ABORTED; a run stopped earlier is ABORTED with the state it was in; and a start keeps the
 * newest complete copy of a record among the file and the temporary files a crash left.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredExecution } from './execution.ts';
import { whereOf } from './recovery.ts';
import { ANSWER, readRecord, recordFile, service, start } from './recovery-fixture.ts';
import type { InvokeTask } from './service.ts';

class TestError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** The tasks: Answer answers (or fails when asked), Publish "delivers" the terminal event to the asker and says so. */
class Tasks {
  /** The terminal events the asker received, by execution. */
  readonly delivered: { executionArn: string; state: string }[] = [];
  /** What the record on disk showed each time Publish was called. */
  readonly seenOnDisk: ReturnType<typeof whereOf>[] = [];
  hold?: { entered: () => void; release: Promise<void> };
  constructor(private readonly dir: string) {}

  readonly invoke: InvokeTask = async (resource, input, meta) => {
    if (resource === ANSWER) {
      if ((input as { fail?: boolean }).fail) throw new TestError('Test.Broken', 'no answer');
      return { text: 'an answer' };
    }
    this.seenOnDisk.push(whereOf((await readRecord(this.dir, meta.executionArn)).events));
    if (this.hold) {
      this.hold.entered();
      await this.hold.release;
      return { published: false };
    }
    this.delivered.push({ executionArn: meta.executionArn, state: meta.stateName });
    return { published: true };
  };
}

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sfn-recovery-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A crash right after the record shows the terminal task returned (the engine had only its bookkeeping left). */
const afterTaskReturned = (state: string) => (r: StoredExecution) => {
  const where = whereOf(r.events);
  return where.state === state && where.taskResult?.ok === true;
};

describe('a crash between the terminal event and the end of the record', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await freshDir();
  });

  it('records a run whose DONE reached the asker as SUCCEEDED, with the output the engine gives it', async () => {
    const tasks = new Tasks(dataDir);
    const first = service(dataDir, tasks.invoke);
    first.freezeDiskWhen(afterTaskReturned('Publish'));
    const arn = await start(first, { question: 'q' });
    const inMemory = await first.waitForExecution(arn);
    expect(inMemory.status).toBe('SUCCEEDED');
    expect(tasks.delivered).toEqual([{ executionArn: arn, state: 'Publish' }]);
    // The fault happened where intended: the disk holds the run RUNNING, its Publish task returned.
    const crashed = await readRecord(dataDir, arn);
    expect(crashed.status).toBe('RUNNING');
    expect(whereOf(crashed.events)).toMatchObject({ state: 'Publish', taskRunning: false, taskResult: { ok: true } });
    // Before Publish ran, the record on disk already showed Answer's result and Publish's task started.
    expect(tasks.seenOnDisk).toEqual([expect.objectContaining({ state: 'Publish', taskRunning: true })]);
    expect(crashed.events.map((e) => e.type)).toContain('LambdaFunctionSucceeded');

    const second = service(dataDir, new Tasks(dataDir).invoke);
    try {
      const d = await second.waitForExecution(arn);
      expect(d).toMatchObject({ status: 'SUCCEEDED', output: inMemory.output });
      const record = await readRecord(dataDir, arn);
      expect(record.events.slice(-2).map((e) => e.type)).toEqual(['TaskStateExited', 'ExecutionSucceeded']);
      expect(record.events.map((e) => e.id)).toEqual(record.events.map((_, i) => i + 1));
    } finally {
      await second.stop();
      await first.stop();
    }
  });

  it('records a run whose FAILED event reached the asker as FAILED, with the Fail state error and cause', async () => {
    const tasks = new Tasks(dataDir);
    const first = service(dataDir, tasks.invoke);
    first.freezeDiskWhen(afterTaskReturned('PublishFailure'));
    const arn = await start(first, { fail: true });
    expect(await first.waitForExecution(arn)).toMatchObject({ status: 'FAILED', error: 'Test.Broken', cause: 'no answer' });
    expect(tasks.delivered).toEqual([{ executionArn: arn, state: 'PublishFailure' }]);
    expect((await readRecord(dataDir, arn)).status).toBe('RUNNING');

    const second = service(dataDir, new Tasks(dataDir).invoke);
    try {
      expect(await second.waitForExecution(arn)).toMatchObject({ status: 'FAILED', error: 'Test.Broken', cause: 'no answer' });
      const types = (await readRecord(dataDir, arn)).events.slice(-3).map((e) => e.type);
      expect(types).toEqual(['TaskStateExited', 'FailStateEntered', 'ExecutionFailed']);
    } finally {
      await second.stop();
      await first.stop();
    }
  });

  it('control: a run stopped while its Publish task had not returned (nothing delivered) is ABORTED, naming the state', async () => {
    const tasks = new Tasks(dataDir);
    let entered!: () => void;
    const inPublish = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    tasks.hold = { entered, release: new Promise<void>((resolve) => (release = resolve)) };
    const first = service(dataDir, tasks.invoke);
    first.freezeDiskWhen((r) => whereOf(r.events).taskRunning === true && whereOf(r.events).state === 'Publish');
    const arn = await start(first, { question: 'q' });
    await inPublish;
    expect(tasks.delivered).toEqual([]);

    const second = service(dataDir, new Tasks(dataDir).invoke);
    try {
      expect(await second.waitForExecution(arn)).toMatchObject({
        status: 'ABORTED',
        error: 'States.Runtime',
        cause: expect.stringMatching(/^the local stack stopped while this run was in state Publish \(its task had started and had not returned/),
      });
      expect((await readRecord(dataDir, arn)).events.slice(-2).map((e) => e.type)).toEqual(['TaskStateAborted', 'ExecutionAborted']);
    } finally {
      release();
      await second.stop();
      await first.stop();
    }
  });
});

describe('temporary files a crash left next to a record', () => {
  it('keeps the newest complete copy: a newer temporary file replaces the record; older and incomplete ones go', async () => {
    const dataDir = await freshDir();
    const first = service(dataDir, new Tasks(dataDir).invoke);
    const arn = await start(first, { question: 'q' });
    await first.waitForExecution(arn);
    await first.stop();
    const file = recordFile(dataDir, arn);
    const stored = await readRecord(dataDir, arn);
    const rev = stored.rev!;
    expect(rev).toBeGreaterThan(1);
    // As a crash leaves them: another process's temporary files (fsync'd, not renamed; or cut short).
    const tmp = (n: number) => `${file}.${process.pid + 1000 + n}.${randomUUID()}.tmp`;
    const newer = tmp(1);
    await writeFile(newer, JSON.stringify({ ...stored, rev: rev + 1, output: '"the newer output"' }));
    const older = tmp(2);
    await writeFile(older, JSON.stringify({ ...stored, rev: rev - 1, output: '"an older output"' }));
    const partial = tmp(3);
    await writeFile(partial, JSON.stringify(stored).slice(0, 40));

    const second = service(dataDir, new Tasks(dataDir).invoke);
    try {
      expect(await second.waitForExecution(arn)).toMatchObject({ status: 'SUCCEEDED', output: '"the newer output"' });
      expect(await readdir(path.dirname(file))).toEqual([path.basename(file)]);
      expect(await readRecord(dataDir, arn)).toMatchObject({ rev: rev + 1, output: '"the newer output"' });
    } finally {
      await second.stop();
    }
  });

  it('control: a temporary file no newer than the record is removed and the record kept as it was', async () => {
    const dataDir = await freshDir();
    const first = service(dataDir, new Tasks(dataDir).invoke);
    const arn = await start(first, { question: 'q' });
    const done = await first.waitForExecution(arn);
    await first.stop();
    const file = recordFile(dataDir, arn);
    const stored = await readRecord(dataDir, arn);
    const same = `${file}.${process.pid + 1000}.${randomUUID()}.tmp`;
    await writeFile(same, JSON.stringify({ ...stored, output: '"not newer"' }));

    const second = service(dataDir, new Tasks(dataDir).invoke);
    try {
      expect(await second.waitForExecution(arn)).toMatchObject({ status: 'SUCCEEDED', output: done.output });
      expect(await readdir(path.dirname(file))).toEqual([path.basename(file)]);
      expect(await readRecord(dataDir, arn)).toEqual(stored);
    } finally {
      await second.stop();
    }
  });
});
