import aslValidator from 'asl-validator';
import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { ErrorName, TRANSIENT_ERRORS } from '../tasks/errors.ts';
import { TASK_NAMES } from '../tasks/task-names.ts';
import { DATA_LIMIT_EXCEEDED, definition, FUNCTION_ARN_VARIABLES, STATE_NAMES, substituteFunctionArns } from './definition.ts';

const arns = Object.fromEntries(TASK_NAMES.map((t) => [t, `arn:aws:lambda:us-east-1:000000000000:function:${t}`])) as Record<(typeof TASK_NAMES)[number], string>;

type State = {
  Type: string;
  Resource?: string;
  ResultPath?: string | null;
  Retry?: { ErrorEquals: string[] }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  Next?: string;
  End?: boolean;
};
const states = definition.States as unknown as Record<string, State>;

describe('the state machine definition', () => {
  it('is valid ASL once the function ARNs are substituted', () => {
    const { isValid, errorsText } = aslValidator(substituteFunctionArns(arns) as object);
    expect(isValid, errorsText('\n')).toBe(true);
  });

  it('is accepted by the local runner', () => {
    expect(() => new StateMachine(substituteFunctionArns(arns) as never)).not.toThrow();
  });

  it('leaves no substitution variable behind and names only the five task functions', () => {
    const text = JSON.stringify(substituteFunctionArns(arns));
    expect(text).not.toMatch(/\$\{/);
    const resources = Object.values(states).flatMap((s) => (s.Resource ? [s.Resource] : []));
    expect(new Set(resources)).toEqual(new Set(Object.values(FUNCTION_ARN_VARIABLES).map((v) => `\${${v}}`)));
  });

  it('retries only the transient errors, and catches everything else into RecordFailure -> PublishFailure', () => {
    for (const name of [STATE_NAMES.validate, STATE_NAMES.mint, STATE_NAMES.invoke, STATE_NAMES.publish]) {
      const s = states[name]!;
      expect(s.Retry?.flatMap((r) => r.ErrorEquals)).toEqual(expect.arrayContaining([...TRANSIENT_ERRORS]));
      for (const nonTransient of [ErrorName.InvalidRequest, ErrorName.AgentFailed, ErrorName.CredentialsFailed, 'States.ALL']) {
        expect(s.Retry?.flatMap((r) => r.ErrorEquals)).not.toContain(nonTransient);
      }
      // ValidateContext first sends a lost claim (Duplicate) to AlreadyAnswered: see below.
      expect(s.Catch?.filter((c) => !c.ErrorEquals.includes(ErrorName.Duplicate))).toEqual([
        expect.objectContaining({ ErrorEquals: [DATA_LIMIT_EXCEEDED], Next: STATE_NAMES.record }),
        expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: STATE_NAMES.record }),
      ]);
      expect(s.Retry?.flatMap((r) => r.ErrorEquals)).not.toContain(ErrorName.Duplicate);
    }
    expect(states[STATE_NAMES.record]!.Next).toBe(STATE_NAMES.publishFailure);
    expect(states[STATE_NAMES.record]!.Catch?.[0]?.Next).toBe(STATE_NAMES.publishFailure);
    expect(states[STATE_NAMES.publishFailure]!.Next).toBe(STATE_NAMES.failed);
    expect(states[STATE_NAMES.failed]!.Type).toBe('Fail');
  });

  it('names States.DataLimitExceeded in every Catch, before States.ALL (which does not match it), with the same handler', () => {
    const catching = Object.entries(states).filter(([, s]) => s.Catch);
    expect(catching.map(([n]) => n).sort()).toEqual(Object.entries(states).filter(([, s]) => s.Type === 'Task').map(([n]) => n).sort());
    for (const [, s] of catching) {
      // ValidateContext's first catcher, Duplicate, goes elsewhere on purpose (the next test).
      const catchers = s.Catch!.filter((c) => !c.ErrorEquals.includes(ErrorName.Duplicate));
      expect(catchers.map((c) => c.ErrorEquals)).toEqual([[DATA_LIMIT_EXCEEDED], ['States.ALL']]);
      const [limit, all] = catchers;
      expect({ Next: limit!.Next, ResultPath: limit!.ResultPath }).toEqual({ Next: all!.Next, ResultPath: all!.ResultPath });
    }
  });

  it('keeps no published event in the state: PublishAnswer and PublishFailure discard their results (ResultPath null)', () => {
    expect(states[STATE_NAMES.publish]!.ResultPath).toBeNull();
    expect(states[STATE_NAMES.publishFailure]!.ResultPath).toBeNull();
    // Control: the other tasks keep theirs.
    expect(states[STATE_NAMES.invoke]!.ResultPath).toBe('$.answer');
  });

  it('catches Duplicate in ValidateContext alone, first, into AlreadyAnswered (a Succeed state); no other state can reach it', () => {
    const validate = states[STATE_NAMES.validate]!;
    expect(validate.Catch?.[0]).toEqual({ ErrorEquals: [ErrorName.Duplicate], ResultPath: '$.duplicate', Next: STATE_NAMES.alreadyAnswered });
    expect(states[STATE_NAMES.alreadyAnswered]!.Type).toBe('Succeed');
    const reaching = Object.entries(states).filter(([, s]) => s.Next === STATE_NAMES.alreadyAnswered || s.Catch?.some((c) => c.Next === STATE_NAMES.alreadyAnswered));
    expect(reaching.map(([n]) => n)).toEqual([STATE_NAMES.validate]);
    // The claim is made with the execution's id: ValidateContext gets it beside the state.
    expect((validate as State & { Parameters?: unknown }).Parameters).toEqual({ 'input.$': '$', 'executionArn.$': '$$.Execution.Id' });
  });

  it('has three ends: PublishAnswer (DONE), Failed (after PublishFailure) and AlreadyAnswered (a duplicate, silent)', () => {
    const ends = Object.entries(states).filter(([, s]) => s.End || s.Type === 'Fail' || s.Type === 'Succeed').map(([n]) => n);
    expect(ends.sort()).toEqual([STATE_NAMES.failed, STATE_NAMES.publish, STATE_NAMES.alreadyAnswered].sort());
  });
});
