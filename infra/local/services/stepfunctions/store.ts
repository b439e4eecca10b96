/**
 * The executions the service knows, in memory and (with a data directory) on disk: one private JSON
 * file per execution under `<dataDir>/executions/`, named by a hash of its ARN. Writes of one
 * execution never overlap and the last one wins; at most `maxExecutions` finished executions are
 * kept; executions that were still RUNNING when a previous process stopped load as ABORTED.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { writePrivateFile, writePrivateFileSync } from '../../../../client/cli/private-file.ts';
import type { Logger } from '../../edge/log.ts';
import { errorText } from './engine-guard.ts';
import { EXECUTION_STATUSES, Execution, STORE_VERSION, type StoredExecution } from './execution.ts';

export interface ExecutionStoreOptions {
  /** Executions persist under `<dataDir>/executions/`; in memory only when undefined. */
  dataDir?: string;
  /** Finished executions kept (in memory and on disk); the oldest are dropped. @default 1000 */
  maxExecutions?: number;
  logger: Logger;
  clock: () => Date;
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
    Array.isArray(d.events);
  if (!ok) throw new Error('not an execution record of this version');
  return d as StoredExecution;
}

export class ExecutionStore {
  private readonly executions = new Map<string, Execution>();
  private readonly dir: string | undefined;
  private readonly pendingRemovals = new Set<Promise<void>>();
  private seq = 1;

  constructor(private readonly options: ExecutionStoreOptions) {
    if (options.dataDir) {
      this.dir = path.join(options.dataDir, 'executions');
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.load();
    }
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

  /** Schedules a write of the record; writes of one execution never overlap and the last one wins. */
  persist(exec: Execution): void {
    if (!this.dir) return;
    exec.dirty = true;
    if (!exec.writing) exec.writing = this.writeLoop(exec);
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
        await unlink(this.file(exec.data.executionArn)).catch(() => undefined);
      })();
      this.pendingRemovals.add(removal);
      void removal.then(() => this.pendingRemovals.delete(removal));
    }
  }

  private file(executionArn: string): string {
    return path.join(this.dir!, `${createHash('sha256').update(executionArn).digest('hex').slice(0, 40)}.json`);
  }

  private async writeLoop(exec: Execution): Promise<void> {
    try {
      while (exec.dirty) {
        exec.dirty = false;
        try {
          await writePrivateFile(this.file(exec.data.executionArn), JSON.stringify(exec.data));
        } catch (err) {
          this.options.logger.log('error', 'sfn.persist_failed', { executionArn: exec.data.executionArn, error: errorText(err) });
        }
      }
    } finally {
      exec.writing = undefined;
    }
  }

  /** Loads persisted executions; those still RUNNING when the process stopped are ABORTED now. */
  private load(): void {
    const dir = this.dir!;
    for (const entry of readdirSync(dir)) {
      const file = path.join(dir, entry);
      if (entry.endsWith('.tmp')) {
        // A write that a stopped process left behind (not one of ours in flight).
        if (!entry.includes(`.${process.pid}.`)) unlinkSync(file);
        continue;
      }
      if (!entry.endsWith('.json')) continue;
      let data: StoredExecution;
      try {
        data = parseStored(readFileSync(file, 'utf8'));
      } catch (err) {
        this.options.logger.log('warn', 'sfn.load_skipped', { file: entry, error: errorText(err) });
        continue;
      }
      if (this.executions.has(data.executionArn)) continue;
      if (data.status === 'RUNNING') {
        const now = this.options.clock();
        const failure = { error: 'States.Runtime', cause: 'the local stack stopped' };
        data.events.push({
          id: data.events.length + 1,
          previousEventId: data.events.length,
          timestamp: now.getTime(),
          type: 'ExecutionAborted',
          detailsKey: 'executionAbortedEventDetails',
          details: failure,
        });
        Object.assign(data, { status: 'ABORTED', stopDate: now.getTime() }, failure);
        writePrivateFileSync(file, JSON.stringify(data));
        this.options.logger.log('warn', 'sfn.execution_interrupted', { executionArn: data.executionArn });
      }
      this.executions.set(data.executionArn, new Execution(data));
      this.seq = Math.max(this.seq, data.seq + 1);
    }
    this.prune();
  }
}
