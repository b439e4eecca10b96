/**
 * The local AppSync's record of the terminal events (DONE, FAILED) it accepted, written durably
 * BEFORE an event goes to its subscribers, so that once an asker may have read a terminal event,
 * a restart after a crash can tell (issue 19: a kill -9 between AppSync accepting PublishAnswer's
 * DONE and the task returning must not leave that run recorded ABORTED). AppSync itself keeps no
 * such record and needs none (it does not crash with the workflow); this is the twin's own crash
 * recovery, read once at start by the Step Functions stand-in's recovery (recovery.ts).
 *
 * `<dataDir>/appsync-deliveries.log`: one JSON line `{"answerId":..,"status":..}` per terminal
 * event, appended and fsync'd (concurrent events share one write and one fsync). Bounded: the
 * newest `keep` entries are what a restart needs (a run left over by a crash published its event
 * moments before it); past twice that many lines the file is rewritten with the newest `keep`
 * (write to a temporary file, fsync, rename, fsync the directory). A line cut short by a crash
 * (its event was never fanned out) is dropped when the file is opened. Without a data directory
 * (in-memory stacks) nothing is written and nothing is remembered.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export const DELIVERY_LOG_FILE = 'appsync-deliveries.log';
export type TerminalStatus = 'DONE' | 'FAILED';
const TERMINAL = new Set<string>(['DONE', 'FAILED']);

/** Entries kept (and needed): more than the runs that can be in flight when a stack is killed. @default */
export const DELIVERY_LOG_KEEP = 2000;

interface Entry {
  answerId: string;
  status: TerminalStatus;
}

function parseLine(line: string): Entry | undefined {
  try {
    const v = JSON.parse(line) as Partial<Entry>;
    return typeof v.answerId === 'string' && typeof v.status === 'string' && TERMINAL.has(v.status) ? { answerId: v.answerId, status: v.status } : undefined;
  } catch {
    // A line a crash cut short: its event was never fanned out (the append is fsync'd first).
    return undefined;
  }
}

const lineOf = (e: Entry) => `${JSON.stringify({ answerId: e.answerId, status: e.status })}\n`;

export class DeliveryLog {
  /** The newest entries, oldest first (a Map keeps insertion order; a re-recorded answerId moves last). */
  private readonly entries = new Map<string, TerminalStatus>();
  private lines = 0;
  private handle?: FileHandle;
  private queue: Entry[] = [];
  private writing?: Promise<void>;
  private waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];

  private constructor(
    private readonly file: string | undefined,
    private readonly keep: number,
  ) {}

  /**
   * Reads the log of `dataDir` (synchronously: the start reads it before recovery runs) and
   * rewrites it if a crash left a line cut short or a compaction's temporary file. No `dataDir`:
   * a log that records nothing.
   */
  static open(dataDir: string | undefined, keep = DELIVERY_LOG_KEEP): DeliveryLog {
    if (!dataDir) return new DeliveryLog(undefined, keep);
    const file = path.join(dataDir, DELIVERY_LOG_FILE);
    const log = new DeliveryLog(file, keep);
    // A compaction's temporary file: the rename did or did not happen, the log file is whole either way.
    for (const entry of readdirSync(dataDir)) if (entry.startsWith(`${DELIVERY_LOG_FILE}.`) && entry.endsWith('.tmp')) unlinkSync(path.join(dataDir, entry));
    if (!existsSync(file)) return log;
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const torn = lines.pop() !== '';
    for (const line of lines) {
      const e = parseLine(line);
      if (e) log.remember(e);
    }
    log.lines = lines.length;
    if (torn || lines.length > 2 * keep) log.compactSync();
    return log;
  }

  /** The terminal status recorded for `answerId`, if this log holds one. */
  delivered(answerId: string): TerminalStatus | undefined {
    return this.entries.get(answerId);
  }

  /** Whether `status` is one this log records. */
  static isTerminal(status: unknown): status is TerminalStatus {
    return typeof status === 'string' && TERMINAL.has(status);
  }

  /** Resolves once the entry is on disk (at once without a data directory); rejects if the write failed. */
  record(answerId: string, status: TerminalStatus): Promise<void> {
    if (!this.file) return Promise.resolve();
    this.queue.push({ answerId, status });
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.writing ??= this.writeQueued();
    return done;
  }

  /** Waits for pending writes and closes the file. */
  async close(): Promise<void> {
    await this.writing;
    await this.handle?.close();
    this.handle = undefined;
  }

  private remember(e: Entry): void {
    this.entries.delete(e.answerId);
    this.entries.set(e.answerId, e.status);
    while (this.entries.size > this.keep) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** Group commit: every entry queued until now goes out in one write and one fsync. */
  private async writeQueued(): Promise<void> {
    // Settle only after `record` has stored this promise in `writing`.
    await Promise.resolve();
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0);
        const waiters = this.waiters.splice(0);
        try {
          this.handle ??= await open(this.file!, 'a', 0o600);
          await this.handle.writeFile(batch.map(lineOf).join(''));
          await this.handle.sync();
          for (const e of batch) this.remember(e);
          this.lines += batch.length;
          if (this.lines > 2 * this.keep) await this.compact();
          for (const w of waiters) w.resolve();
        } catch (err) {
          for (const w of waiters) w.reject(err);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  private content(): string {
    return [...this.entries].map(([answerId, status]) => lineOf({ answerId, status })).join('');
  }

  private async compact(): Promise<void> {
    const file = this.file!;
    const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    const h = await open(tmp, 'wx', 0o600);
    try {
      await h.writeFile(this.content());
      await h.sync();
    } finally {
      await h.close();
    }
    await this.handle?.close();
    this.handle = undefined;
    await rename(tmp, file);
    syncDir(path.dirname(file));
    this.lines = this.entries.size;
  }

  private compactSync(): void {
    const file = this.file!;
    const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, this.content());
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    syncDir(path.dirname(file));
    this.lines = this.entries.size;
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
