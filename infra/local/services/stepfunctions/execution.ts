/**
 * One execution: its record (what DescribeExecution and GetExecutionHistory report, and what is
 * persisted) and, while it runs, what the runner tracks about it (open states, task attempts, the
 * abort signal its task handlers receive).
 */
import type { Failure, StoredEvent, TaskEventFamily } from './history.ts';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export const EXECUTION_STATUSES: readonly string[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'];

/** The version of the persisted record; records of another version are not loaded. */
export const STORE_VERSION = 1;

export interface StoredExecution {
  version: number;
  /** Start order, for newest-first listing and pagination. */
  seq: number;
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate?: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  events: StoredEvent[];
  /** The record's revision: one more on every write (recovery keeps the highest of a file's copies). */
  rev?: number;
}

/** DescribeExecution, for in-process callers. */
export interface ExecutionDescription {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
}

/** One call of a task handler, until it settles (or times out). */
export interface TaskAttempt {
  family: TaskEventFamily;
  settled: boolean;
}

export interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

export function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export class Execution {
  closed: boolean;
  readonly terminal: Promise<void>;
  readonly controller = new AbortController();
  abortRun?: () => void;
  /** Set when the engine itself failed; the execution ends FAILED with States.Runtime. */
  engineFailure?: Failure;
  /** States entered and not yet exited or failed (for the `...StateAborted` events). */
  readonly openStates = new Map<string, string>();
  /** Map/Parallel states that failed since they last started. */
  readonly failedComposite = new Set<string>();
  readonly attempts = new Map<string, TaskAttempt[]>();
  /**
   * Each state's raw input at its latest entry or retry. The engine enters a state and calls its
   * task handler in one synchronous step, so the task handler reads its own state's raw input here
   * (for the state's output, payload-limits.ts), even when Map iterations run one state at once.
   */
  readonly stateInputs = new Map<string, unknown>();
  writing?: Promise<void>;
  dirty = false;
  /** Settles when the next write (covering every change until it starts) has reached the disk. */
  pending?: Deferred;
  private markTerminal!: () => void;

  constructor(readonly data: StoredExecution) {
    this.closed = data.status !== 'RUNNING';
    this.terminal = new Promise<void>((resolve) => (this.markTerminal = resolve));
    if (this.closed) this.markTerminal();
  }

  event(now: Date, type: string, detailsKey?: string, details?: Record<string, unknown>): void {
    const id = this.data.events.length + 1;
    const event: StoredEvent = { id, previousEventId: id - 1, timestamp: now.getTime(), type };
    if (detailsKey && details) {
      event.detailsKey = detailsKey;
      event.details = details;
    }
    this.data.events.push(event);
  }

  close(): void {
    this.closed = true;
    this.markTerminal();
  }

  describe(): ExecutionDescription {
    const d = this.data;
    return {
      executionArn: d.executionArn,
      stateMachineArn: d.stateMachineArn,
      name: d.name,
      status: d.status,
      startDate: new Date(d.startDate),
      ...(d.stopDate !== undefined ? { stopDate: new Date(d.stopDate) } : {}),
      input: d.input,
      ...(d.output !== undefined ? { output: d.output } : {}),
      ...(d.error !== undefined ? { error: d.error } : {}),
      ...(d.cause !== undefined ? { cause: d.cause } : {}),
    };
  }
}
