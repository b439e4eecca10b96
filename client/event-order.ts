/**
 * One answer's events in `seq` order, whatever order they arrive in. The workflow numbers them
 * 1, 2, 3 ... (ACCEPTED, PROGRESS, CHUNK) and gives the terminal event (DONE or FAILED) a seq above
 * all of them. An event is passed on once every lower seq has been; a gap that stays open for
 * `gapMs` is skipped (a best-effort event that was never published). A seq seen before (a task
 * that was retried) is dropped, and so is anything after the terminal event, which releases
 * everything held before it.
 */
export interface OrderedEvent {
  seq: number;
  status: string;
}

export interface EventOrderOptions {
  /** How long a missing seq holds up the events after it. @default 500 */
  gapMs?: number;
}

export class EventOrder<E extends OrderedEvent> {
  private next: number;
  private readonly held = new Map<number, E>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ended = false;

  constructor(
    private readonly deliver: (event: E) => void,
    private readonly options: EventOrderOptions = {},
  ) {
    // The workflow numbers an answer's events from 1 (tasks/answer-events.ts FIRST_SEQ).
    this.next = 1;
  }

  accept(event: E): void {
    if (this.ended || event.seq < this.next || this.held.has(event.seq)) return;
    if (event.status === 'DONE' || event.status === 'FAILED') {
      this.release(true);
      this.ended = true;
      this.close();
      this.deliver(event);
      return;
    }
    this.held.set(event.seq, event);
    this.release(false);
    if (this.held.size > 0) this.timer ??= setTimeout(() => this.skipGap(), this.options.gapMs ?? 500);
  }

  /** Stops waiting for missing events (the caller is done with this answer). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Passes on held events in order: those that follow on without a gap, or `all` of them. */
  private release(all: boolean): void {
    const seqs = [...this.held.keys()].sort((a, b) => a - b);
    for (const seq of seqs) {
      if (!all && seq !== this.next) break;
      const event = this.held.get(seq)!;
      this.held.delete(seq);
      this.next = seq + 1;
      this.deliver(event);
    }
  }

  private skipGap(): void {
    this.timer = undefined;
    const lowest = Math.min(...this.held.keys());
    if (!Number.isFinite(lowest)) return;
    this.next = lowest;
    this.release(false);
    if (this.held.size > 0) this.timer = setTimeout(() => this.skipGap(), this.options.gapMs ?? 500);
  }
}
