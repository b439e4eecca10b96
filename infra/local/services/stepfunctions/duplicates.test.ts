/**
 * The duplicate-executions switch: asynchronous Express executions are at-least-once on AWS, so
 * the local Step Functions can start every execution twice. The duplicate is a real execution of
 * its own (its own name, ARN, history and task calls, the same input), listed by ListExecutions.
 */
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LocalIam } from '../../iam/principals.ts';
import { StepFunctionsService, type InvokeTask, type TaskInvocationMeta } from './service.ts';

const WORK = 'arn:aws:lambda:us-east-1:000000000000:function:work';

/** One Task state that receives the state and the execution's id, as ValidateContext does. */
const definition = {
  StartAt: 'Work',
  States: {
    Work: { Type: 'Task', Resource: WORK, Parameters: { 'input.$': '$', 'executionArn.$': '$$.Execution.Id' }, ResultPath: '$.work', End: true },
  },
};

let iam: LocalIam;
let svc: StepFunctionsService;
let edge: Edge;
let sfn: SFNClient;
const calls: { input: unknown; meta: TaskInvocationMeta }[] = [];

beforeAll(async () => {
  iam = new LocalIam();
  const invokeTask: InvokeTask = async (resource, input, meta) => {
    if (resource !== WORK) throw new Error(`unexpected resource ${resource}`);
    calls.push({ input, meta });
    return { by: meta.executionArn };
  };
  svc = new StepFunctionsService({
    location: iam.location,
    evaluator: new PolicyEvaluator(),
    logger: silentLogger,
    clock: () => new Date(),
    stateMachines: [{ name: 'assistant', arn: iam.resources.stateMachineArn, definition, type: 'EXPRESS' }],
    invokeTask,
    duplicateExecutions: true,
  });
  edge = new Edge({ iam, services: { states: svc }, clock: () => new Date(), logger: silentLogger });
  const endpoint = await edge.listen(0);
  sfn = new SFNClient({ endpoint, region: 'us-east-1', credentials: iam.credentials('operator'), maxAttempts: 1 });
});

afterAll(async () => {
  await svc?.stop();
  await edge?.close();
  sfn?.destroy();
});

const listed = async () => (await sfn.send(new ListExecutionsCommand({ stateMachineArn: iam.resources.stateMachineArn }))).executions ?? [];

describe('duplicate executions (at-least-once, on request)', () => {
  it('starts a second execution with the same input and its own name and ARN; the caller gets the first', async () => {
    const before = (await listed()).length;
    const input = JSON.stringify({ job: 'twice' });
    const out = await sfn.send(new StartExecutionCommand({ stateMachineArn: iam.resources.stateMachineArn, name: 'ask-1', input }));
    const first = out.executionArn!;
    const duplicate = `${first}-duplicate`;
    expect(first).toMatch(/:execution:assistant:ask-1$/);
    await svc.drain();

    const rows = await listed();
    expect(rows).toHaveLength(before + 2);
    expect(rows.slice(0, 2).map((r) => [r.name, r.status]).sort()).toEqual([
      ['ask-1', 'SUCCEEDED'],
      ['ask-1-duplicate', 'SUCCEEDED'],
    ]);
    for (const arn of [first, duplicate]) {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      expect(d.input).toBe(input);
      // Each ran its own task, with its own execution id in the context object.
      expect(JSON.parse(d.output!)).toEqual({ job: 'twice', work: { by: arn } });
    }
    expect(calls.filter((c) => c.meta.executionArn === first).map((c) => c.input)).toEqual([{ input: { job: 'twice' }, executionArn: first }]);
    expect(calls.filter((c) => c.meta.executionArn === duplicate).map((c) => c.input)).toEqual([{ input: { job: 'twice' }, executionArn: duplicate }]);
  });

  it('keeps the duplicate name within the 80 characters of an execution name', async () => {
    const name = 'n'.repeat(80);
    const out = await sfn.send(new StartExecutionCommand({ stateMachineArn: iam.resources.stateMachineArn, name, input: '{}' }));
    await svc.drain();
    const rows = await listed();
    expect(rows.slice(0, 2).map((r) => r.name).sort()).toEqual([name, `${'n'.repeat(70)}-duplicate`].sort());
    expect(out.executionArn!.endsWith(`:${name}`)).toBe(true);
  });

  it('control: switched off, one StartExecution is one execution', async () => {
    svc.setDuplicateExecutions(false);
    try {
      const before = (await listed()).length;
      const out = await sfn.send(new StartExecutionCommand({ stateMachineArn: iam.resources.stateMachineArn, name: 'ask-once', input: '{}' }));
      await svc.drain();
      const rows = await listed();
      expect(rows).toHaveLength(before + 1);
      expect(rows[0]!.executionArn).toBe(out.executionArn);
      expect(calls.filter((c) => c.meta.executionArn.includes('ask-once'))).toHaveLength(1);
    } finally {
      svc.setDuplicateExecutions(true);
    }
  });
});
