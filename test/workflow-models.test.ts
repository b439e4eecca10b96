/**
 * The workflow on the models Bedrock serves and refuses (tasks/models.ts), with each agent runtime:
 * a model past its end of life ends in one FAILED event with a clear reason and no retry storm;
 * throttling once is retried and answered; a model timeout (Converse) is not retried; every DONE
 * answer carries the model's token usage.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatExecution, showExecution } from '../client/executions.ts';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import { LOCAL_MODEL_ID } from '../infra/local/iam/principals.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { AGENT_RUNTIMES } from '../tasks/config.ts';
import { ErrorName } from '../tasks/errors.ts';
import { failureMessage } from '../tasks/publish-answer.ts';
import { AnswerSchema } from '../tasks/workflow-input.ts';
import { ask, recordEvents } from './workflow-helpers.ts';

/** Claude 3 Haiku: end of life in us-east-1 (the local region) since 2026-09-10, by its model card. */
const END_OF_LIFE_MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';

async function invokeAgentState(stack: LocalStack, executionArn: string) {
  const sfn = new SFNClient(stack.clientConfig('operator'));
  try {
    return (await showExecution(sfn, executionArn)).states.find((s) => s.name === 'InvokeAgent')!;
  } finally {
    sfn.destroy();
  }
}

function answerOf(output: string | undefined) {
  return AnswerSchema.parse((JSON.parse(output ?? '{}') as { answer?: unknown }).answer);
}

describe.each(AGENT_RUNTIMES)('with the %s agent runtime', (agentRuntime) => {
  describe(`on the local model (${LOCAL_MODEL_ID})`, () => {
    let stack: LocalStack;
    let events: AnswerEventRecord[];
    beforeAll(async () => {
      stack = await startLocalStack({ port: 0, seedOrdersPerUser: 0, retryIntervalOverrides: 0, agentRuntime });
      events = recordEvents(stack);
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('a DONE answer carries the token usage, counted from the text (control: a longer question reads more tokens)', async () => {
      const short = await ask(stack, events, 'tenant1-user', "What's your return policy?");
      const long = await ask(stack, events, 'tenant1-user', `What's your return policy? ${'Please be precise. '.repeat(20)}`);
      expect([short.status, long.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
      expect(short.events.map((e) => e.status)).toEqual(['DONE']);
      const a = answerOf(short.output).usage!;
      const b = answerOf(long.output).usage!;
      expect(a).toEqual({ modelId: LOCAL_MODEL_ID, inputTokens: expect.any(Number), outputTokens: expect.any(Number), totalTokens: a.inputTokens + a.outputTokens });
      expect(a.inputTokens).toBeGreaterThan(0);
      expect(a.outputTokens).toBeGreaterThan(0);
      // The question is read once per model call (a tool round, then the answer): 380 more characters, at least 95 more tokens.
      expect(b.inputTokens - a.inputTokens).toBeGreaterThanOrEqual(95);
      expect(b.outputTokens).toBe(a.outputTokens);
      // Operators see it in `npm run executions -- show`; the asker never does (control: the DONE event).
      const sfn = new SFNClient(stack.clientConfig('operator'));
      const shown = await showExecution(sfn, short.executionArn).finally(() => sfn.destroy());
      expect(shown.usage).toEqual(a);
      expect(formatExecution(shown)).toContain(`tokens:  ${a.totalTokens} (input ${a.inputTokens}, output ${a.outputTokens}) on ${LOCAL_MODEL_ID}`);
      expect(short.events[0]!.text).toBe('You can return items within 10 days.');
      expect(JSON.stringify(short.events)).not.toMatch(/tokens|usage/i);
    });

    it('throttled once: InvokeAgent is retried once and the asker gets DONE', async () => {
      stack.bedrock.injectFault({ kind: 'throttle', times: 1 });
      const asked = await ask(stack, events, 'tenant2-user', "What's your return policy?");
      stack.bedrock.clearFaults();
      expect(asked.status).toBe('SUCCEEDED');
      expect(asked.events.map((e) => e.status)).toEqual(['DONE']);
      expect(await invokeAgentState(stack, asked.executionArn)).toMatchObject({ attempts: 2, failures: [{ error: ErrorName.Throttled }] });
    });

    it('a stream broken mid-way is retried and answered (converse: ModelStreamErrorException; bedrock-agent: throttlingException in the stream)', async () => {
      stack.bedrock.injectFault(agentRuntime === 'converse' ? { kind: 'model-stream-error', at: 'stream' } : { kind: 'throttle', at: 'stream' });
      const asked = await ask(stack, events, 'tenant2-user', "What's your return policy?");
      stack.bedrock.clearFaults();
      expect(asked.status).toBe('SUCCEEDED');
      expect(asked.events[0]!.text).toBe('You can return items within 20 days.');
      const failure = agentRuntime === 'converse' ? ErrorName.ServiceUnavailable : ErrorName.Throttled;
      expect(await invokeAgentState(stack, asked.executionArn)).toMatchObject({ attempts: 2, failures: [{ error: failure }] });
    });

    if (agentRuntime === 'converse') {
      it('a model timeout is not retried: one FAILED event saying the assistant took too long', async () => {
        stack.bedrock.injectFault({ kind: 'model-timeout', times: 3 });
        const asked = await ask(stack, events, 'tenant3-user', "What's your return policy?");
        stack.bedrock.clearFaults();
        expect(asked).toMatchObject({ status: 'FAILED', error: ErrorName.ModelTimedOut });
        expect(asked.events.map((e) => [e.status, e.error])).toEqual([['FAILED', 'The assistant took too long to answer. Please try again.']]);
        expect(await invokeAgentState(stack, asked.executionArn)).toMatchObject({ attempts: 1 });
      });
    }
  });

  describe(`on a model past its end of life (${END_OF_LIFE_MODEL})`, () => {
    let stack: LocalStack;
    let events: AnswerEventRecord[];
    beforeAll(async () => {
      stack = await startLocalStack({ port: 0, seedOrdersPerUser: 0, retryIntervalOverrides: 0, agentRuntime, modelId: END_OF_LIFE_MODEL });
      events = recordEvents(stack);
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('the asker gets one FAILED event that says the model is not available; Bedrock is asked once, not retried', async () => {
      const asked = await ask(stack, events, 'tenant1-user', "What's your return policy?");
      expect(asked).toMatchObject({ status: 'FAILED', error: ErrorName.ModelUnavailable });
      expect(asked.cause).toContain('This model version has reached the end of its life.');
      expect(asked.events.map((e) => [e.status, e.error])).toEqual([['FAILED', failureMessage({ Error: ErrorName.ModelUnavailable })]]);
      expect(asked.events[0]!.error).toMatch(/language model is not available/);
      expect(await invokeAgentState(stack, asked.executionArn)).toMatchObject({ attempts: 1 });
      const operation = agentRuntime === 'converse' ? 'ConverseStream' : 'InvokeAgent';
      expect(stack.bedrock.calls().map((c) => [c.operation, c.outcome])).toEqual([[operation, 'ResourceNotFoundException']]);
    });
  });
});
