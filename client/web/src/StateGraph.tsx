/**
 * One execution drawn as the state machine graph: each state a box coloured (and labelled) by its
 * outcome, Next edges solid, Catch edges dashed. Selecting a box opens that state's details.
 */
import type { KeyboardEvent } from 'react';
import { OUTCOME_LABELS, type Graph, type GraphNode, type Outcome } from './graph.ts';

const W = 210;
const H = 52;
const LANE_X = [12, 292] as const;
const ROW_H = 84;
const TOP = 12;

const pos = (n: GraphNode) => ({ x: LANE_X[n.lane], y: TOP + n.row * ROW_H });

interface Props {
  graph: Graph;
  outcomes: Record<string, Outcome>;
  timings: Record<string, string>;
  selected?: string | undefined;
  onSelect(name: string): void;
}

export function StateGraph({ graph, outcomes, timings, selected, onSelect }: Props) {
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const width = LANE_X[1] + W + 12;
  const height = TOP + graph.rows * ROW_H;
  const summary = graph.nodes.map((n) => `${n.name}: ${OUTCOME_LABELS[outcomes[n.name] ?? 'not-run']}`).join(', ');
  const onKey = (name: string) => (e: KeyboardEvent) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onSelect(name);
    }
  };
  return (
    <figure className="graph">
      <svg viewBox={`0 0 ${width} ${height}`} role="group" aria-label={`State machine graph. ${summary}`} data-testid="state-graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="arrowhead" />
          </marker>
        </defs>
        {graph.edges.map((e) => {
          const a = byName.get(e.from);
          const b = byName.get(e.to);
          if (!a || !b) return null;
          const pa = pos(a);
          const pb = pos(b);
          let d: string;
          if (a.lane === b.lane) {
            // A Catch beside a Next to the same state is drawn a little to the right of it.
            const x = W / 2 + (e.kind === 'catch' ? 14 : 0);
            d = `M ${pa.x + x} ${pa.y + H} L ${pb.x + x} ${pb.y}`;
          } else {
            const from = a.lane < b.lane ? { x: pa.x + W, y: pa.y + H / 2 } : { x: pa.x, y: pa.y + H / 2 };
            const to = a.lane < b.lane ? { x: pb.x, y: pb.y + H / 2 } : { x: pb.x + W, y: pb.y + H / 2 };
            const mid = (from.x + to.x) / 2;
            d = `M ${from.x} ${from.y} C ${mid} ${from.y}, ${mid} ${to.y}, ${to.x} ${to.y}`;
          }
          return <path key={`${e.from}->${e.to}:${e.kind}`} d={d} className={`edge edge-${e.kind}`} markerEnd="url(#arrow)" />;
        })}
        {graph.nodes.map((n) => {
          const p = pos(n);
          const outcome = outcomes[n.name] ?? 'not-run';
          return (
            <g
              key={n.name}
              className={`node outcome-${outcome}${selected === n.name ? ' selected' : ''}`}
              transform={`translate(${p.x} ${p.y})`}
              role="button"
              tabIndex={0}
              aria-label={`${n.name}, ${OUTCOME_LABELS[outcome]}${timings[n.name] ? `, ${timings[n.name]}` : ''}. Show details`}
              aria-pressed={selected === n.name}
              data-state={n.name}
              data-outcome={outcome}
              onClick={() => onSelect(n.name)}
              onKeyDown={onKey(n.name)}
            >
              <rect width={W} height={H} rx={8} />
              <text x={12} y={21} className="node-name">
                {n.name}
              </text>
              <text x={12} y={40} className="node-meta">
                {OUTCOME_LABELS[outcome]}
                {timings[n.name] ? ` · ${timings[n.name]}` : ''}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="legend">
        {(Object.keys(OUTCOME_LABELS) as Outcome[]).map((o) => (
          <span key={o} className={`legend-item outcome-${o}`}>
            <span className="swatch" aria-hidden="true" />
            {OUTCOME_LABELS[o]}
          </span>
        ))}
        <span className="legend-item">
          <span className="swatch-line dashed" aria-hidden="true" />
          on error (Catch)
        </span>
      </figcaption>
    </figure>
  );
}
