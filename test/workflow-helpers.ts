/** Helpers for the workflow suites: ask a question through StartExecution, as the resolver will. */
import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, SFNClient, StartExecutionCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import type { LocalStack } from '../infra/local/stack.ts';
import type { WorkflowInput } from '../tasks/workflow-input.ts';

export interface Asked {
  executionArn: string;
  answerId: string;
  status: string;
  error?: string;
  cause?: string;
  output?: string;
  /** The terminal events (DONE, FAILED) published for the answer: exactly one in every sound run. */
  events: AnswerEventRecord[];
  /** Every event published for the answer (ACCEPTED, PROGRESS, CHUNK and the terminal one), in order. */
  stream: AnswerEventRecord[];
}

export const isTerminal = (e: { status: string }): boolean => e.status === 'DONE' || e.status === 'FAILED';

/** Collects every published event of a stack. */
export function recordEvents(stack: LocalStack): AnswerEventRecord[] {
  const events: AnswerEventRecord[] = [];
  stack.appsync.events.on('publish', (e: AnswerEventRecord) => events.push(e));
  return events;
}

export function workflowInput(stack: LocalStack, username: string, question: string, extra: Partial<WorkflowInput['request']> = {}): WorkflowInput {
  const u = stack.user(username);
  return {
    identity: { tenantId: u.tenantId, userId: u.sub, username: u.username },
    request: { answerId: `${u.sub}.${randomUUID()}`, question, ...extra },
  };
}

/** Starts an execution with `input` (as the operator) and waits for it to end. */
export async function run(stack: LocalStack, events: AnswerEventRecord[], input: WorkflowInput): Promise<Asked> {
  const sfn = new SFNClient(stack.clientConfig('operator'));
  try {
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: stack.iam.resources.stateMachineArn, input: JSON.stringify(input) }));
    const executionArn = started.executionArn!;
    await stack.states.waitForExecution(executionArn);
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return {
      executionArn,
      answerId: input.request.answerId,
      status: d.status!,
      ...(d.error ? { error: d.error } : {}),
      ...(d.cause ? { cause: d.cause } : {}),
      ...(d.output ? { output: d.output } : {}),
      events: events.filter((e) => e.answerId === input.request.answerId && isTerminal(e)),
      stream: events.filter((e) => e.answerId === input.request.answerId),
    };
  } finally {
    sfn.destroy();
  }
}

export function ask(stack: LocalStack, events: AnswerEventRecord[], username: string, question: string): Promise<Asked> {
  return run(stack, events, workflowInput(stack, username, question));
}

export async function historyOf(stack: LocalStack, executionArn: string): Promise<HistoryEvent[]> {
  const sfn = new SFNClient(stack.clientConfig('operator'));
  try {
    const out: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, includeExecutionData: true, nextToken }));
      out.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return out;
  } finally {
    sfn.destroy();
  }
}

/** The names of the states an execution entered, in order. */
export function statesEntered(history: HistoryEvent[]): string[] {
  return history.flatMap((e) => (e.stateEnteredEventDetails?.name ? [e.stateEnteredEventDetails.name] : []));
}
