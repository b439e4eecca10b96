/**
 * The configured state machines, compiled for the engine: every Task state found (nested Parallel
 * branches and Map processors included), and the definition the engine runs, with the Express
 * time limit applied to the execution and to every Task state that sets no timeout of its own.
 */
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';
import type { ErrorHandlers, ResultFields } from './payload-limits.ts';

/** Express workflows run at most five minutes. */
const EXPRESS_MAX_SECONDS = 300;

export interface LocalStateMachine {
  name: string;
  arn: string;
  /** The ASL definition, resources already substituted. */
  definition: object;
  type: 'EXPRESS';
  /** Reported in ExecutionStarted and DescribeStateMachine. */
  roleArn?: string;
}

export interface TaskInfo {
  resource: string;
  /** The state's own TimeoutSeconds, if it sets one (for the history). */
  timeoutSeconds: number | undefined;
}

/** A state's definition, as far as the runner reads it (error handlers, result fields). */
export type StateDefinition = ErrorHandlers & ResultFields & { Type?: unknown };

export interface Machine {
  config: LocalStateMachine;
  roleArn: string;
  engine: StateMachine;
  /** Task states by name. */
  tasks: Map<string, TaskInfo>;
  /** Every state by name (names are unique in a state machine, nested states included). */
  states: Map<string, StateDefinition>;
  retryIntervalOverrides?: Record<string, number | number[]>;
  createdAt: Date;
}

export interface CompileOptions {
  location: AwsLocation;
  /** Retry pauses in milliseconds: by state name, or one number for every state that has a Retry. */
  retryIntervalOverrides?: number | Record<string, number | number[]>;
  createdAt: Date;
}

type AnyState = Record<string, unknown> & { Type?: unknown };
type AnyDefinition = { StartAt?: unknown; States?: Record<string, AnyState>; TimeoutSeconds?: unknown };

/** Compiles one configured state machine; throws if its definition is not valid ASL. */
export function compileMachine(config: LocalStateMachine, options: CompileOptions): Machine {
  const { partition, accountId } = options.location;
  const def = config.definition as AnyDefinition;
  const tasks = new Map<string, TaskInfo>();
  const states = new Map<string, StateDefinition>();
  const retrying = new Set<string>();
  collectStates(def, tasks, states, retrying);
  const overrides = options.retryIntervalOverrides;
  const retryIntervalOverrides = typeof overrides === 'number' ? Object.fromEntries([...retrying].map((n) => [n, overrides])) : overrides;
  const limit = Math.min(typeof def.TimeoutSeconds === 'number' ? def.TimeoutSeconds : EXPRESS_MAX_SECONDS, EXPRESS_MAX_SECONDS);
  // The engine validates the definition (asl-validator) and throws if it is not valid ASL.
  const engine = new StateMachine(engineDefinition(def, limit) as unknown as StateMachineDefinition);
  return {
    config,
    roleArn: config.roleArn ?? `arn:${partition}:iam::${accountId}:role/${config.name}-state-machine`,
    engine,
    tasks,
    states,
    ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}),
    createdAt: options.createdAt,
  };
}

/** Every state and every Task state by name, and the states with a Retry; nested Parallel branches and Map processors included. */
function collectStates(def: AnyDefinition, tasks: Map<string, TaskInfo>, names: Map<string, StateDefinition>, retrying: Set<string>): void {
  for (const [name, state] of Object.entries(def.States ?? {})) {
    if (names.has(name)) throw new Error(`State names must be unique in a state machine, and '${name}' is not.`);
    names.set(name, state as StateDefinition);
    if (Array.isArray(state.Retry)) retrying.add(name);
    if (state.Type === 'Task') {
      if (typeof state.Resource !== 'string') throw new Error(`Task state '${name}' has no Resource.`);
      tasks.set(name, { resource: state.Resource, timeoutSeconds: typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined });
    } else if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      for (const branch of state.Branches as AnyDefinition[]) collectStates(branch, tasks, names, retrying);
    } else if (state.Type === 'Map') {
      const processor = (state.ItemProcessor ?? state.Iterator) as AnyDefinition | undefined;
      if (processor) collectStates(processor, tasks, names, retrying);
    }
  }
}

/** The definition the engine runs: the Express time limit, and Task timeouts no longer than it. */
function engineDefinition(def: AnyDefinition, limitSeconds: number): AnyDefinition {
  const copy = structuredClone(def);
  const visit = (d: AnyDefinition) => {
    for (const state of Object.values(d.States ?? {})) {
      if (state.Type === 'Task' && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) state.TimeoutSeconds = limitSeconds;
      if (state.Type === 'Parallel' && Array.isArray(state.Branches)) for (const b of state.Branches as AnyDefinition[]) visit(b);
      if (state.Type === 'Map') {
        const processor = (state.ItemProcessor ?? state.Iterator) as AnyDefinition | undefined;
        if (processor) visit(processor);
      }
    }
  };
  visit(copy);
  copy.TimeoutSeconds = limitSeconds;
  return copy;
}
