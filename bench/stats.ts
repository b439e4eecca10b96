/** Measurement helpers shared by the benchmarks. */

export function positiveIntEnv(key: string, fallback: number): number {
  const raw = process.env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${key} must be a positive integer, not '${raw}'`);
  return n;
}

/** Runs `send` n times one after the other, pushing each latency (ms) into `into`. */
export async function sequential(send: () => Promise<void>, n: number, into?: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await send();
    into?.push(performance.now() - t0);
  }
}

/** Completed operations per second with `concurrency` in flight for `ms` milliseconds; latencies into `into`. */
export async function throughput(send: () => Promise<void>, ms: number, concurrency: number, into?: number[]): Promise<number> {
  return (await throughputAndCpu(send, ms, concurrency, into)).perSecond;
}

/**
 * `throughput`, and the process's CPU time (every thread, garbage collection included) per
 * completed operation over the same window.
 */
export async function throughputAndCpu(
  send: () => Promise<void>,
  ms: number,
  concurrency: number,
  into?: number[],
): Promise<{ perSecond: number; cpuMsPerRun: number }> {
  let completed = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const deadline = start + ms;
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await send();
      into?.push(performance.now() - t0);
      completed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: completed / ((performance.now() - start) / 1000), cpuMsPerRun: (cpu.user + cpu.system) / 1000 / completed };
}

export interface Stats {
  p50: number;
  p99: number;
  mean: number;
}

/** Nearest-rank percentile of ascending samples. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The middle value (the upper one of an even count); NaN for none. */
export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export function summarise(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: sorted.reduce((s, x) => s + x, 0) / sorted.length };
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export const ms = (x: number) => x.toFixed(3);

export interface OpenLoopResult {
  /** Operations completed per second over the whole run (arrivals included until the last ends). */
  completedPerSecond: number;
  /** The most operations in flight at once. */
  maxInFlight: number;
}

/**
 * An open-loop load: operations arrive at a fixed `rate` per second for `ms` milliseconds, whether
 * or not earlier ones have finished (as users do), with at most `maxInFlight` at once; an arrival
 * that finds the limit reached waits, and its latency counts from when it was due (no coordinated
 * omission). Latencies (ms) go into `into`.
 */
export async function openLoop(send: () => Promise<void>, rate: number, ms: number, maxInFlight: number, into: number[]): Promise<OpenLoopResult> {
  const interval = 1000 / rate;
  const start = performance.now();
  const total = Math.floor(ms / interval);
  let inFlight = 0;
  let maxSeen = 0;
  const waiting: (() => void)[] = [];
  const runs: Promise<void>[] = [];
  const one = async (due: number) => {
    if (inFlight >= maxInFlight) await new Promise<void>((resolve) => waiting.push(resolve));
    inFlight++;
    maxSeen = Math.max(maxSeen, inFlight);
    try {
      await send();
      into.push(performance.now() - due);
    } finally {
      inFlight--;
      waiting.shift()?.();
    }
  };
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    runs.push(one(due));
  }
  await Promise.all(runs);
  return { completedPerSecond: total / ((performance.now() - start) / 1000), maxInFlight: maxSeen };
}
