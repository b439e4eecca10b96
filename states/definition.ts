/**
 * The assistant's Express state machine, in Amazon States Language (JSONPath). One definition: CDK
 * deploys it with definition substitutions for the function ARNs, and the local Step Functions
 * stand-in runs it with local function ARNs. Error names come from tasks/errors.ts.
 *
 *   ValidateContext -> MintCredentials -> InvokeAgent -> PublishAnswer
 *   any failure     -> RecordFailure -> PublishFailure -> Failed
 *   Duplicate       -> AlreadyAnswered (ValidateContext lost the answerId's claim)
 *
 * Every answer ends with exactly one terminal event to the asker: DONE from PublishAnswer or
 * FAILED from PublishFailure. Express executions are at-least-once, so one ask may start two
 * executions: ValidateContext claims the answerId first (a conditional write, with the execution's
 * id), and the execution that loses ends in AlreadyAnswered without any event, agent call or runs
 * record; the one that won answers. Before the terminal event, ValidateContext (ACCEPTED, PROGRESS) and InvokeAgent
 * (PROGRESS, CHUNK) publish best-effort events; their seq counter travels in the state
 * (`$.context.nextSeq`, `$.answer.nextSeq`, tasks/answer-events.ts). Tasks receive the whole state
 * and parse what they need.
 */
import { ErrorName, TRANSIENT_ERRORS } from '../tasks/errors.ts';
import type { TaskName } from '../tasks/task-names.ts';
import { WORKFLOW_TIMEOUT_SECONDS } from '../tasks/workflow-input.ts';

/** The definition substitution variable that names each task's function. */
export const FUNCTION_ARN_VARIABLES: Readonly<Record<TaskName, string>> = {
  'validate-context': 'ValidateContextFunctionArn',
  'mint-credentials': 'MintCredentialsFunctionArn',
  'invoke-agent': 'InvokeAgentFunctionArn',
  'publish-answer': 'PublishAnswerFunctionArn',
  'record-failure': 'RecordFailureFunctionArn',
};

/** Lambda's own transient failures, as Step Functions reports them for a function ARN resource. */
const LAMBDA_TRANSIENT = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];

const retryTransient = [
  { ErrorEquals: [...TRANSIENT_ERRORS, ...LAMBDA_TRANSIENT], IntervalSeconds: 1, BackoffRate: 2, MaxAttempts: 3, MaxDelaySeconds: 8, JitterStrategy: 'FULL' },
];

/**
 * Step Functions' payload quota error (256 KiB for a state's input, a task's result, a state's
 * output). `States.ALL` does not match it, so every Catch names it first: an oversized state still
 * ends with the asker's FAILED event.
 */
export const DATA_LIMIT_EXCEEDED = 'States.DataLimitExceeded';

const catchAll = (next: string, resultPath: string) => [
  { ErrorEquals: [DATA_LIMIT_EXCEEDED], ResultPath: resultPath, Next: next },
  { ErrorEquals: ['States.ALL'], ResultPath: resultPath, Next: next },
];

const task = (name: TaskName) => `\${${FUNCTION_ARN_VARIABLES[name]}}`;

/** Seconds a task may run before Step Functions gives up on it. */
const TASK_TIMEOUTS: Readonly<Record<TaskName, number>> = {
  'validate-context': 10,
  'mint-credentials': 10,
  'invoke-agent': 120,
  'publish-answer': 10,
  'record-failure': 10,
};

export const STATE_NAMES = {
  validate: 'ValidateContext',
  mint: 'MintCredentials',
  invoke: 'InvokeAgent',
  publish: 'PublishAnswer',
  record: 'RecordFailure',
  publishFailure: 'PublishFailure',
  failed: 'Failed',
  alreadyAnswered: 'AlreadyAnswered',
} as const;

export const definition = {
  Comment: 'Tenant-isolated AI assistant: one question, from a verified identity to exactly one terminal event',
  QueryLanguage: 'JSONPath',
  StartAt: STATE_NAMES.validate,
  TimeoutSeconds: WORKFLOW_TIMEOUT_SECONDS,
  States: {
    [STATE_NAMES.validate]: {
      Type: 'Task',
      Resource: task('validate-context'),
      TimeoutSeconds: TASK_TIMEOUTS['validate-context'],
      // The execution's id claims the answerId (a retry of this task in the same execution claims again).
      Parameters: { 'input.$': '$', 'executionArn.$': '$$.Execution.Id' },
      ResultPath: '$.context',
      Retry: retryTransient,
      // A duplicate first: the execution that owns the answer publishes, records and answers, not this one.
      Catch: [{ ErrorEquals: [ErrorName.Duplicate], ResultPath: '$.duplicate', Next: STATE_NAMES.alreadyAnswered }, ...catchAll(STATE_NAMES.record, '$.error')],
      Next: STATE_NAMES.mint,
    },
    [STATE_NAMES.mint]: {
      Type: 'Task',
      Resource: task('mint-credentials'),
      TimeoutSeconds: TASK_TIMEOUTS['mint-credentials'],
      ResultPath: '$.sealed',
      Retry: retryTransient,
      Catch: catchAll(STATE_NAMES.record, '$.error'),
      Next: STATE_NAMES.invoke,
    },
    [STATE_NAMES.invoke]: {
      Type: 'Task',
      Resource: task('invoke-agent'),
      TimeoutSeconds: TASK_TIMEOUTS['invoke-agent'],
      ResultPath: '$.answer',
      Retry: retryTransient,
      Catch: catchAll(STATE_NAMES.record, '$.error'),
      Next: STATE_NAMES.publish,
    },
    [STATE_NAMES.publish]: {
      Type: 'Task',
      Resource: task('publish-answer'),
      TimeoutSeconds: TASK_TIMEOUTS['publish-answer'],
      // The published event repeats the answer: the state keeps its size (the payload quota).
      ResultPath: null,
      Retry: retryTransient,
      Catch: catchAll(STATE_NAMES.record, '$.error'),
      End: true,
    },
    [STATE_NAMES.record]: {
      Type: 'Task',
      Resource: task('record-failure'),
      TimeoutSeconds: TASK_TIMEOUTS['record-failure'],
      Parameters: { 'state.$': '$', 'executionArn.$': '$$.Execution.Id' },
      ResultPath: '$.recorded',
      Retry: retryTransient,
      // Even when the run cannot be recorded, the asker still gets their FAILED event.
      Catch: catchAll(STATE_NAMES.publishFailure, '$.recordError'),
      Next: STATE_NAMES.publishFailure,
    },
    [STATE_NAMES.publishFailure]: {
      Type: 'Task',
      Resource: task('publish-answer'),
      TimeoutSeconds: TASK_TIMEOUTS['publish-answer'],
      ResultPath: null,
      Retry: retryTransient,
      Catch: catchAll(STATE_NAMES.failed, '$.publishError'),
      Next: STATE_NAMES.failed,
    },
    [STATE_NAMES.failed]: {
      Type: 'Fail',
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    },
    [STATE_NAMES.alreadyAnswered]: {
      Type: 'Succeed',
      Comment: 'Another execution claimed this answerId (Express runs an execution at least once): it answers; this one sends nothing.',
    },
  },
} as const;

/** The definition with each `${...FunctionArn}` replaced (what CDK's definitionSubstitutions do). */
export function substituteFunctionArns(arns: Readonly<Record<TaskName, string>>): unknown {
  let text = JSON.stringify(definition);
  for (const [taskName, variable] of Object.entries(FUNCTION_ARN_VARIABLES) as [TaskName, string][]) {
    text = text.split(`\${${variable}}`).join(arns[taskName]);
  }
  return JSON.parse(text);
}
