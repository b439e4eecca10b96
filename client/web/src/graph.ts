/**
 * The state machine graph of the executions view: a layout of an ASL definition (the main path in
 * one lane, the states reached only by Catch in a second lane) and each state's outcome in one run.
 */
import type { StateRun } from '../../executions.ts';

export type EdgeKind = 'next' | 'catch' | 'choice';

export interface GraphNode {
  name: string;
  type: string;
  lane: 0 | 1;
  row: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: EdgeKind;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  rows: number;
}

interface AslState {
  Type?: string;
  Next?: string;
  Default?: string;
  Choices?: { Next?: string }[];
  Catch?: { Next?: string }[];
}

export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
}

export function parseDefinition(text: string): AslDefinition {
  const d = JSON.parse(text) as Partial<AslDefinition>;
  if (typeof d.StartAt !== 'string' || typeof d.States !== 'object' || d.States === null) throw new Error('Not an ASL definition.');
  return d as AslDefinition;
}

function edgesOf(name: string, s: AslState): GraphEdge[] {
  const edges: GraphEdge[] = [];
  if (s.Next) edges.push({ from: name, to: s.Next, kind: 'next' });
  for (const c of s.Choices ?? []) if (c.Next) edges.push({ from: name, to: c.Next, kind: 'choice' });
  if (s.Default) edges.push({ from: name, to: s.Default, kind: 'choice' });
  for (const c of s.Catch ?? []) if (c.Next) edges.push({ from: name, to: c.Next, kind: 'catch' });
  return edges;
}

/** Lays out the definition: lane 0 follows StartAt along Next/Choice edges, lane 1 holds the rest. */
export function layout(definition: AslDefinition): Graph {
  const names = Object.keys(definition.States);
  const edges = names.flatMap((n) => edgesOf(n, definition.States[n]!)).filter((e) => e.to in definition.States);
  const nodes = new Map<string, GraphNode>();
  // Lane 0: breadth-first from StartAt over the non-catch edges.
  const queue = [definition.StartAt];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (nodes.has(name) || !(name in definition.States)) continue;
    nodes.set(name, { name, type: definition.States[name]!.Type ?? 'Task', lane: 0, row: nodes.size });
    for (const e of edges) if (e.from === name && e.kind !== 'catch') queue.push(e.to);
  }
  // Lane 1: the rest in breadth-first order from their first predecessor, each below the previous one.
  let lastRow = -1;
  const rest = names.filter((n) => !nodes.has(n));
  const pending = [...rest];
  while (pending.length > 0) {
    // The next one to place: a state whose predecessors are placed, else the first remaining.
    const index = Math.max(0, pending.findIndex((n) => edges.filter((e) => e.to === n).every((e) => nodes.has(e.from))));
    const name = pending.splice(index, 1)[0]!;
    const predecessorRows = edges.filter((e) => e.to === name && nodes.has(e.from)).map((e) => nodes.get(e.from)!.row);
    const row = Math.max(lastRow + 1, predecessorRows.length > 0 ? Math.min(...predecessorRows) : 0);
    nodes.set(name, { name, type: definition.States[name]!.Type ?? 'Task', lane: 1, row });
    lastRow = row;
  }
  const list = [...nodes.values()];
  return { nodes: list, edges, rows: Math.max(0, ...list.map((n) => n.row)) + 1 };
}

export type Outcome = 'succeeded' | 'retried' | 'failed' | 'running' | 'not-run';

export const OUTCOME_LABELS: Record<Outcome, string> = {
  succeeded: 'succeeded',
  retried: 'succeeded after retries',
  failed: 'failed',
  running: 'running',
  'not-run': 'not run',
};

/** Each state's outcome in one execution (its last visit when it ran more than once). */
export function outcomes(definition: AslDefinition, states: readonly StateRun[], executionStatus: string): Record<string, Outcome> {
  const out: Record<string, Outcome> = {};
  for (const name of Object.keys(definition.States)) out[name] = 'not-run';
  for (const run of states) {
    const type = definition.States[run.name]?.Type;
    let outcome: Outcome;
    if (type === 'Fail') outcome = 'failed';
    else if (run.failures.length > 0 && run.failures.length >= Math.max(1, run.attempts)) outcome = 'failed';
    else if (!run.exitedAt) outcome = executionStatus === 'RUNNING' ? 'running' : 'failed';
    else outcome = run.failures.length > 0 ? 'retried' : 'succeeded';
    out[run.name] = outcome;
  }
  return out;
}

export function durationMs(from?: Date, to?: Date): number | undefined {
  return from && to ? to.getTime() - from.getTime() : undefined;
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '-';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
