/** What both recovery suites share: the state machine they run, starting a run, reading its record. */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LocalIam } from '../../iam/principals.ts';
import type { StoredExecution } from './execution.ts';
import type { DeliveredEnding } from './recovery.ts';
import { StepFunctionsService, type InvokeTask, type StepFunctionsOptions } from './service.ts';
import { recordFileName } from './store.ts';

export const ANSWER = 'arn:aws:lambda:us-east-1:000000000000:function:answer';
export const PUBLISH = 'arn:aws:lambda:us-east-1:000000000000:function:publish';

/** Answer -> Publish (End, ResultPath null), or on failure PublishFailure -> Failed (ErrorPath, CausePath). */
export const definition = {
  StartAt: 'Answer',
  States: {
    Answer: { Type: 'Task', Resource: ANSWER, ResultPath: '$.answer', Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'PublishFailure' }], Next: 'Publish' },
    Publish: { Type: 'Task', Resource: PUBLISH, ResultPath: null, End: true },
    PublishFailure: { Type: 'Task', Resource: PUBLISH, ResultPath: null, Next: 'Failed' },
    Failed: { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' },
  },
};

/** The options of a persisted service on `dataDir` running `definition` with `invoke` (and the delivery log's answer, when given). */
export function serviceOptions(dataDir: string, invoke: InvokeTask, deliveredEnding?: DeliveredEnding): StepFunctionsOptions {
  const iam = new LocalIam();
  return {
    location: iam.location,
    evaluator: new PolicyEvaluator(),
    logger: silentLogger,
    clock: () => new Date(),
    dataDir,
    stateMachines: [{ name: 'assistant', arn: iam.resources.stateMachineArn, definition, type: 'EXPRESS' }],
    invokeTask: invoke,
    ...(deliveredEnding ? { deliveredEnding } : {}),
  };
}

export function service(dataDir: string, invoke: InvokeTask, deliveredEnding?: DeliveredEnding): StepFunctionsService {
  return new StepFunctionsService(serviceOptions(dataDir, invoke, deliveredEnding));
}

/** An execution's record file under `dataDir`. */
export const recordFile = (dataDir: string, executionArn: string) => path.join(dataDir, 'executions', recordFileName(executionArn));

export async function readRecord(dataDir: string, executionArn: string): Promise<StoredExecution> {
  return JSON.parse(await readFile(recordFile(dataDir, executionArn), 'utf8')) as StoredExecution;
}

/** Starts an execution in-process: the service's own StartExecution, as the operator (whose policy allows it). */
export async function start(svc: StepFunctionsService, input: object): Promise<string> {
  const iam = new LocalIam();
  const { principal } = iam.resolve(iam.credentials('operator').accessKeyId, undefined, new Date());
  const response = await svc.handle({
    principal,
    target: 'AWSStepFunctions.StartExecution',
    body: Buffer.from(JSON.stringify({ stateMachineArn: iam.resources.stateMachineArn, input: JSON.stringify(input), name: randomUUID() })),
    headers: {},
    requestId: randomUUID(),
    method: 'POST',
    path: '/',
  });
  return (JSON.parse(String(response.body)) as { executionArn: string }).executionArn;
}
