/**
 * invoke-agent has one Lambda entry per agent runtime: each builds its own runtime's adapter, refuses
 * a function configured for the other, and the local stack builds the entry CDK would deploy.
 */
import { describe, expect, it } from 'vitest';
import { agentRuntimeFor } from './agent-runtime.ts';
import { BedrockAgentAdapter, bedrockAgentRuntime } from './agent-runtime-bedrock-agent.ts';
import { ConverseAdapter, converseRuntime } from './agent-runtime-converse.ts';
import { AGENT_RUNTIMES, taskConfigFromEnv, type AgentRuntimeKind } from './config.ts';
import type { InvokeAgentDeps } from './invoke-agent.ts';
import { LAMBDA_ENTRIES, lambdaEntry } from './lambda-entries.ts';
import { ENTRY_MODULES } from './task-modules.ts';
import { TASK_NAMES } from './task-names.ts';
import { fakeCredentials } from '../test/fake-aws.ts';

const ENV = {
  AWS_REGION: 'us-east-1',
  TENANT_ACCESS_ROLE_ARN: 'arn:aws:iam::111111111111:role/tenant-access',
  PUBLISH_ROLE_ARN: 'arn:aws:iam::111111111111:role/publish-answer',
  SEAL_KEY_ID: 'alias/seal',
  GRAPHQL_URL: 'https://example.appsync-api.us-east-1.amazonaws.com/graphql',
  USER_POOL_ID: 'us-east-1_test',
  AGENT_ID: 'AGENT12345',
  AGENT_ALIAS_ID: 'ALIAS1',
  MODEL_ID: 'anthropic.claude-3-haiku-20240307-v1:0',
};
const configFor = (agentRuntime: AgentRuntimeKind) => taskConfigFromEnv({ ...ENV, AGENT_RUNTIME: agentRuntime });
const clients = { region: 'us-east-1', credentials: fakeCredentials() };
const FACTORIES = { converse: converseRuntime, 'bedrock-agent': bedrockAgentRuntime };
const ADAPTERS = { converse: ConverseAdapter, 'bedrock-agent': BedrockAgentAdapter };

describe('Lambda entries', () => {
  it('names one entry per task, and one per agent runtime for invoke-agent', () => {
    expect([...LAMBDA_ENTRIES].sort()).toEqual(
      ['validate-context', 'mint-credentials', 'invoke-agent-bedrock-agent', 'invoke-agent-converse', 'publish-answer', 'record-failure'].sort(),
    );
    for (const runtime of AGENT_RUNTIMES) {
      expect(lambdaEntry('invoke-agent', runtime)).toBe(`invoke-agent-${runtime}`);
      for (const task of TASK_NAMES.filter((t) => t !== 'invoke-agent')) expect(lambdaEntry(task, runtime)).toBe(task);
    }
  });

  it.each(AGENT_RUNTIMES)('the %s runtime builds its own adapter for a function configured for it', (runtime) => {
    expect(agentRuntimeFor(FACTORIES[runtime], configFor(runtime), clients)).toBeInstanceOf(ADAPTERS[runtime]);
  });

  it.each(AGENT_RUNTIMES)('the %s runtime refuses a function whose environment names the other runtime (control above)', (runtime) => {
    const other = AGENT_RUNTIMES.find((r) => r !== runtime)!;
    expect(() => agentRuntimeFor(FACTORIES[runtime], configFor(other), clients)).toThrow(
      `This invoke-agent function runs AGENT_RUNTIME=${runtime}; its environment says AGENT_RUNTIME=${other}`,
    );
  });

  it.each(AGENT_RUNTIMES)("the local stack's invoke-agent module for %s is its entry's: it builds that runtime's adapter", (runtime) => {
    const m = ENTRY_MODULES[lambdaEntry('invoke-agent', runtime)];
    const deps = m.deps(configFor(runtime), clients, () => {}) as InvokeAgentDeps;
    expect(deps.agent).toBeInstanceOf(ADAPTERS[runtime]);
  });
});
