import { describe, expect, it } from 'vitest';
import type { StateRun } from '../../executions.ts';
import { formatDuration, layout, outcomes, parseDefinition, type AslDefinition } from './graph.ts';

// The shape of states/definition.ts (the UI reads the live one with DescribeStateMachine).
const definition: AslDefinition = {
  StartAt: 'Validate',
  States: {
    Validate: { Type: 'Task', Next: 'Invoke', Catch: [{ Next: 'Record' }] },
    Invoke: { Type: 'Task', Next: 'Publish', Catch: [{ Next: 'Record' }] },
    Publish: { Type: 'Task', Catch: [{ Next: 'Record' }] },
    Record: { Type: 'Task', Next: 'PublishFailure', Catch: [{ Next: 'PublishFailure' }] },
    PublishFailure: { Type: 'Task', Next: 'Failed' },
    Failed: { Type: 'Fail' },
  },
};

const at = (ms: number) => new Date(1_700_000_000_000 + ms);
const run = (name: string, fields: Partial<StateRun> = {}): StateRun => ({ name, enteredAt: at(0), exitedAt: at(10), attempts: 1, failures: [], ...fields });

describe('the state machine graph', () => {
  it('puts the main path in lane 0 and the catch targets in lane 1, beside their first catcher', () => {
    const g = layout(definition);
    expect(g.nodes.map((n) => [n.name, n.lane, n.row])).toEqual([
      ['Validate', 0, 0],
      ['Invoke', 0, 1],
      ['Publish', 0, 2],
      ['Record', 1, 0],
      ['PublishFailure', 1, 1],
      ['Failed', 1, 2],
    ]);
    expect(g.rows).toBe(3);
    expect(g.edges.filter((e) => e.kind === 'catch').map((e) => e.from)).toEqual(['Validate', 'Invoke', 'Publish', 'Record']);
  });

  it('colours each state by its outcome: retried, failed (all attempts), not run, and the Fail state', () => {
    const failure = { error: 'Assistant.Throttled' };
    const o = outcomes(
      definition,
      [
        run('Validate', { attempts: 2, failures: [failure] }),
        run('Invoke', { attempts: 1, failures: [{ error: 'Assistant.AgentFailed' }] }),
        run('Record'),
        run('PublishFailure'),
        run('Failed', { exitedAt: undefined }),
      ],
      'FAILED',
    );
    expect(o).toEqual({ Validate: 'retried', Invoke: 'failed', Publish: 'not-run', Record: 'succeeded', PublishFailure: 'succeeded', Failed: 'failed' });
  });

  it('a state without an exit is running while the execution runs', () => {
    expect(outcomes(definition, [run('Validate', { exitedAt: undefined })], 'RUNNING').Validate).toBe('running');
  });

  it('parses definitions and formats durations', () => {
    expect(() => parseDefinition('{"States":{}}')).toThrow('Not an ASL definition.');
    expect(parseDefinition(JSON.stringify(definition)).StartAt).toBe('Validate');
    expect([formatDuration(undefined), formatDuration(12), formatDuration(1234), formatDuration(12_345)]).toEqual(['-', '12 ms', '1.23 s', '12.3 s']);
  });
});
