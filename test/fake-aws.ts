/**
 * Test support for the task unit tests: real AWS SDK clients whose calls are answered from a
 * script, and a publisher that records answer events. Both record and refuse: a call the script
 * does not expect throws (and is kept in `unexpected`), a reply is never made up.
 *
 * A scripted client is the SDK's own client with one middleware at the front of its stack, so the
 * task code uses it exactly as it uses a client for AWS. The middleware sees each command's input
 * before serialisation (for the DynamoDB document client, before marshalling: plain values) and
 * answers it there; nothing is signed or sent.
 */
import type { HandlerExecutionContext, InitializeHandler, InitializeHandlerArguments, MetadataBearer } from '@smithy/types';
import { expect } from 'vitest';
import { newAccessKeyId, newSecretAccessKey } from '../infra/local/iam/principals.ts';
import { PUBLISH_ANSWER, type AnswerEventInput, type PublishPort } from '../tasks/answer-events.ts';
import { WorkflowError } from '../tasks/errors.ts';

/** Credentials made at run time (never a key-like literal in the source): long-term (AKIA) or a session's (ASIA). */
export function fakeCredentials(kind: 'AKIA' | 'ASIA' = 'AKIA'): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: newAccessKeyId(kind), secretAccessKey: newSecretAccessKey() };
}

/** What a client needs to be built: no endpoint is ever reached. */
export const FAKE_CLIENT_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDTASKROLEFAKE0000', secretAccessKey: 'task-role-secret-fake' },
  maxAttempts: 1,
};

export interface FakeCall {
  /** The SDK command's name, e.g. `GetItemCommand` (also for the document client's GetCommand). */
  command: string;
  input: Record<string, unknown>;
}

/** The output of a call, an error it fails with, or either computed from the input (at once, or when a promise settles). */
export type FakeReply =
  | Record<string, unknown>
  | Error
  | ((input: Record<string, unknown>) => Record<string, unknown> | Error | Promise<Record<string, unknown> | Error>);

interface Step {
  command: string;
  reply: FakeReply;
}

interface Stackful {
  middlewareStack: { add(middleware: unknown, options: { step: 'initialize'; priority: 'high'; name: string }): void };
}

export interface ScriptedClient<C> {
  client: C;
  /** Every call, expected or not, in order. */
  readonly calls: FakeCall[];
  /** Calls that did not match the next step of the script (each was refused with an error). */
  readonly unexpected: FakeCall[];
  /** Appends a step: the next call must be `command`; it gets `reply`. */
  on(command: string, reply: FakeReply): ScriptedClient<C>;
  /** Fails unless every step was used and nothing unexpected was called. */
  assertDone(): void;
}

/** Wraps `client` (built with FAKE_CLIENT_CONFIG): each call takes the next step of the script. */
export function scripted<C extends object>(client: C): ScriptedClient<C> {
  const steps: Step[] = [];
  const calls: FakeCall[] = [];
  const unexpected: FakeCall[] = [];
  const middleware =
    (_next: InitializeHandler<object, MetadataBearer>, context: HandlerExecutionContext) =>
    async (args: InitializeHandlerArguments<object>) => {
      const call: FakeCall = { command: String(context.commandName), input: structuredClone(args.input) as Record<string, unknown> };
      calls.push(call);
      const step = steps[0];
      if (!step || step.command !== call.command) {
        unexpected.push(call);
        throw new Error(`Unexpected ${call.command}: the script expects ${step ? step.command : 'no more calls'}`);
      }
      steps.shift();
      const reply = typeof step.reply === 'function' ? await step.reply(call.input) : step.reply;
      if (reply instanceof Error) throw reply;
      return { output: { $metadata: { httpStatusCode: 200 }, ...reply }, response: {} };
    };
  (client as unknown as Stackful).middlewareStack.add(middleware, { step: 'initialize', priority: 'high', name: 'scriptedReplies' });
  const fake: ScriptedClient<C> = {
    client,
    calls,
    unexpected,
    on(command, reply) {
      steps.push({ command, reply });
      return fake;
    },
    assertDone() {
      if (unexpected.length > 0) throw new Error(`Unexpected calls: ${unexpected.map((c) => c.command).join(', ')}`);
      if (steps.length > 0) throw new Error(`Scripted calls never made: ${steps.map((s) => s.command).join(', ')}`);
    },
  };
  return fake;
}

/** An error as the AWS SDK reports a service error: AWS's code as `name`, and the HTTP status. */
export function awsError(name: string, status: number, message = `${name} (scripted)`): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

/** A publisher of answer events that records each one; it refuses any other GraphQL document. */
export function recordingPublisher(fail?: (event: AnswerEventInput) => Error | undefined) {
  const published: AnswerEventInput[] = [];
  const port: PublishPort = {
    request: async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
      if (query !== PUBLISH_ANSWER) throw new Error(`Unexpected GraphQL document: ${query.slice(0, 60)}`);
      const event = { ...variables } as unknown as AnswerEventInput;
      const error = fail?.(event);
      if (error) throw error;
      published.push(event);
      // What AppSync answers: the selection set, here every field of the event.
      return { publishAnswer: { ...event } } as T;
    },
  };
  return { port, published };
}

/** The WorkflowError a task's promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function rejection(p: Promise<unknown>): Promise<WorkflowError> {
  const err = await p.then(
    () => expect.fail('expected the task to fail'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowError);
  return err as WorkflowError;
}

/** A sealed credentials blob as MintCredentials leaves it in the state (opaque base64). */
export const SEALED = 'c2VhbGVkLWJsb2Itb2YtY3JlZGVudGlhbHM=';

/** What the state holds for `identity` and `request` once InvokeAgent has answered: context, sealed credentials, the answer. */
export function stateAfterAnswer<I, R>(identity: I, request: R, answer = { text: 'You can return items within 10 days.', toolCalls: 1, nextSeq: 7 }) {
  return {
    identity,
    request,
    context: { sessionId: 's-1', storeName: 'Tenant One Store', nextSeq: 3 },
    sealed: { sealedCredentials: SEALED, expiration: '2030-01-01T00:15:00.000Z' },
    answer,
  };
}
