/**
 * The executions the service knows, in memory and (with a data directory) on disk: one private JSON
 * file per execution under `<dataDir>/executions/`, named by a hash of its ARN. Every write is
 * durable and atomic (client/cli/private-file.ts, `durable: true`) and carries the record's revision (`rev`, one more per
 * write); writes of one execution never overlap and the last one wins, and `persist` resolves once
 * the record as it was when called is on disk: the runner awaits it before a task is called and
 * before a task's result goes back to the engine (recovery.ts says why). At most `maxExecutions`
 * finished executions are kept.
 *
 * At start (`load`), each record is the newest complete one of its file and the temporary files a
 * stopped process left next to it (a crash between a temporary file's fsync and its rename leaves
 * the newer record only there); an incomplete or older temporary file is removed, a newer one takes
 * the file's place. Records still RUNNING are ended as recovery.ts decides, and written back.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../edge/log.ts';
import { syncDirSync, targetOfTmp, writePrivateFile, writePrivateFileSync } from '../../../../client/cli/private-file.ts';
import { errorText } from './engine-guard.ts';
import { deferred, EXECUTION_STATUSES, Execution, STORE_VERSION, type StoredExecution } from './execution.ts';
import type { Machine } from './machines.ts';

/** An execution record's file name in the executions directory: a digest of its ARN (ARNs hold characters no file name may). */
export function recordFileName(executionArn: string): string {
  return `${createHash('sha256').update(executionArn).digest('hex').slice(0, 40)}.json`;
}
import { recoverInterrupted, type DeliveredEnding } from './recovery.ts';

export interface ExecutionStoreOptions {
  /** Executions persist under `<dataDir>/executions/`; in memory only when undefined. */
  dataDir?: string;
  /** Finished executions kept (in memory and on disk); the oldest are dropped. @default 1000 */
  maxExecutions?: number;
  logger: Logger;
  clock: () => Date;
  /**
   * Read by the recovery at start: whether a left-over run's terminal event was delivered before the
   * stop (the local AppSync's delivery log; recovery.ts). @default none (no run is completed that way)
   */
  deliveredEnding?: DeliveredEnding;
}

function parseStored(text: string): StoredExecution {
  const d = JSON.parse(text) as Partial<StoredExecution>;
  const ok =
    d.version === STORE_VERSION &&
    typeof d.seq === 'number' &&
    typeof d.executionArn === 'string' &&
    typeof d.stateMachineArn === 'string' &&
    typeof d.name === 'string' &&
    typeof d.status === 'string' &&
    EXECUTION_STATUSES.includes(d.status) &&
    typeof d.startDate === 'number' &&
    typeof d.input === 'string' &&
    (d.rev === undefined || typeof d.rev === 'number') &&
    Array.isArray(d.events);
  if (!ok) throw new Error('not an execution record of this version');
  return d as StoredExecution;
}

export class ExecutionStore {
  private readonly executions = new Map<string, Execution>();
  private readonly dir: string | undefined;
  private readonly pendingRemovals = new Set<Promise<void>>();
  private seq = 1;
  /** The runs this start found RUNNING and ended ABORTED (their inputs, e.g. to release what they held). */
  readonly abortedAtStart: { executionArn: string; input: string }[] = [];
  private freeze?: { when: (record: StoredExecution) => boolean; frozen: boolean };

  /** Loads the persisted executions; `machines` (by ARN) tell how a run left RUNNING ends. */
  constructor(
    private readonly options: ExecutionStoreOptions,
    machines: ReadonlyMap<string, Machine> = new Map(),
  ) {
    if (options.dataDir) {
      this.dir = path.join(options.dataDir, 'executions');
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.load(machines);
    }
  }

  /**
   * Test control (an in-process crash): once a record matching `when` is on disk, nothing more is
   * written or removed, as if the process had been killed right after that write; the executions
   * keep running in memory. A new store on the same directory then loads what the crash left.
   */
  freezeDiskWhen(when: (record: StoredExecution) => boolean): void {
    this.freeze = { when, frozen: false };
  }

  get(executionArn: string): Execution | undefined {
    return this.executions.get(executionArn);
  }

  /** Every execution kept, running and finished (a live view: pruning during iteration is safe). */
  values(): IterableIterator<Execution> {
    return this.executions.values();
  }

  /** The start order of the next execution. */
  nextSeq(): number {
    return this.seq++;
  }

  add(exec: Execution): void {
    this.executions.set(exec.data.executionArn, exec);
  }

  /**
   * Schedules a write of the record; writes of one execution never overlap and the last one wins.
   * Resolves when the record, as it is now, is on disk (a write that failed is logged, and resolves too).
   */
  persist(exec: Execution): Promise<void> {
    if (!this.dir) return Promise.resolve();
    exec.dirty = true;
    const pending = (exec.pending ??= deferred());
    if (!exec.writing) exec.writing = this.writeLoop(exec);
    return pending.promise;
  }

  /** Resolves when every pending write of this execution's record has reached the disk. */
  async flushed(exec: Execution): Promise<void> {
    while (exec.writing) await exec.writing;
  }

  /** Resolves when every pending write of an execution record has reached the disk. */
  async flush(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => this.flushed(e)));
  }

  /** Resolves when the records of pruned executions are gone from the disk. */
  async removed(): Promise<void> {
    await Promise.all([...this.pendingRemovals]);
  }

  /** Keeps at most `maxExecutions` finished executions: the oldest go, from memory and disk. */
  prune(): void {
    const max = this.options.maxExecutions ?? 1000;
    const finished = [...this.executions.values()].filter((e) => e.closed);
    if (finished.length <= max) return;
    finished.sort((a, b) => a.data.seq - b.data.seq);
    for (const exec of finished.slice(0, finished.length - max)) {
      this.executions.delete(exec.data.executionArn);
      if (!this.dir) continue;
      const removal = (async () => {
        await this.flushed(exec);
        if (this.freeze?.frozen) return;
        await unlink(this.file(exec.data.executionArn)).catch(() => undefined);
      })();
      this.pendingRemovals.add(removal);
      void removal.then(() => this.pendingRemovals.delete(removal));
    }
  }

  private file(executionArn: string): string {
    return path.join(this.dir!, recordFileName(executionArn));
  }

  private async writeLoop(exec: Execution): Promise<void> {
    // Settle only after `persist` has stored this promise in `exec.writing` (a frozen store writes nothing and would not wait).
    await Promise.resolve();
    try {
      while (exec.dirty) {
        exec.dirty = false;
        // This write covers every change made until now: those who asked for it are answered by it.
        const covered = exec.pending;
        exec.pending = undefined;
        try {
          if (!this.freeze?.frozen) {
            exec.data.rev = (exec.data.rev ?? 0) + 1;
            const text = JSON.stringify(exec.data);
            await writePrivateFile(this.file(exec.data.executionArn), text, { durable: true });
            if (this.freeze?.when(JSON.parse(text) as StoredExecution)) this.freeze.frozen = true;
          }
        } catch (err) {
          this.options.logger.log('error', 'sfn.persist_failed', { executionArn: exec.data.executionArn, error: errorText(err) });
        }
        covered?.resolve();
      }
    } finally {
      exec.writing = undefined;
    }
  }

  /** The newest complete record of each file (see the module's comment); those left RUNNING are ended now. */
  private load(machines: ReadonlyMap<string, Machine>): void {
    const dir = this.dir!;
    const groups = new Map<string, string[]>();
    for (const entry of readdirSync(dir)) {
      const tmp = targetOfTmp(entry);
      // A write of this very process in flight (another store on the same directory, in tests) is not ours to judge.
      if (tmp?.pid === process.pid) continue;
      const target = tmp?.target ?? entry;
      if (!target.endsWith('.json')) continue;
      groups.set(target, [...(groups.get(target) ?? []), entry]);
    }
    for (const [target, entries] of groups) {
      const data = this.newest(target, entries);
      if (!data) continue;
      if (this.executions.has(data.executionArn)) continue;
      if (data.status === 'RUNNING') {
        const { status, where, reason } = recoverInterrupted(data, machines.get(data.stateMachineArn), this.options.clock().getTime(), this.options.deliveredEnding);
        if (status === 'ABORTED') this.abortedAtStart.push({ executionArn: data.executionArn, input: data.input });
        data.rev = (data.rev ?? 0) + 1;
        writePrivateFileSync(path.join(dir, target), JSON.stringify(data), { durable: true });
        this.options.logger.log('warn', 'sfn.execution_interrupted', { executionArn: data.executionArn, status, state: where.state, reason });
      }
      this.executions.set(data.executionArn, new Execution(data));
      this.seq = Math.max(this.seq, data.seq + 1);
    }
    this.prune();
  }

  /**
   * The newest complete record among `<target>` and its temporary files (the highest `rev`; the file
   * itself on a tie), made the file's content; the others among the temporary files are removed.
   */
  private newest(target: string, entries: string[]): StoredExecution | undefined {
    const dir = this.dir!;
    let best: { entry: string; data: StoredExecution } | undefined;
    // The record file first: a temporary file must be strictly newer to replace it.
    for (const entry of [...entries].sort((a, b) => Number(b === target) - Number(a === target))) {
      let data: StoredExecution;
      try {
        data = parseStored(readFileSync(path.join(dir, entry), 'utf8'));
      } catch (err) {
        if (entry === target) this.options.logger.log('warn', 'sfn.load_skipped', { file: entry, error: errorText(err) });
        continue;
      }
      if (!best || (data.rev ?? 0) > (best.data.rev ?? 0)) best = { entry, data };
    }
    if (best && best.entry !== target) {
      renameSync(path.join(dir, best.entry), path.join(dir, target));
      syncDirSync(dir);
      this.options.logger.log('warn', 'sfn.record_recovered', { file: target, from: best.entry, rev: best.data.rev });
    }
    for (const entry of entries) {
      // Older or incomplete temporary files only: a damaged record file stays for its owner to see.
      if (entry !== target && entry !== best?.entry) unlinkSync(path.join(dir, entry));
    }
    return best?.data;
  }
}
