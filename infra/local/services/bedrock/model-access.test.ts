/**
 * The local Bedrock refuses what Bedrock refuses, by the models table (tasks/models.ts) on its
 * clock: an end-of-life model, a profile-only model by its bare id, an unknown id; for Converse and
 * for the agent's model behind InvokeAgent. Each caller here is allowed (IAM) on the model it names,
 * so the refusal is the table's, not IAM's. Also: the faults only Converse declares, and usage.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BedrockAgentRuntimeClient, InvokeAgentCommand } from '@aws-sdk/client-bedrock-agent-runtime';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AgentRuntimeKind } from '../../../../tasks/config.ts';
import { availability, MODEL_REFUSALS } from '../../../../tasks/models.ts';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LOCAL_AGENT_ALIAS_ID, LOCAL_AGENT_ID, LOCAL_MODEL_ID, LocalIam } from '../../iam/principals.ts';
import { CANNOT_HELP } from './local-agent.ts';
import { BedrockService } from './service.ts';
import { failure } from '../../../../test/aws-failure.ts';

const HAIKU_3 = 'anthropic.claude-3-haiku-20240307-v1:0';
const NOVA_2_LITE = 'amazon.nova-2-lite-v1:0';
const DAY_BEFORE_EOL = new Date('2026-09-09T23:59:59Z');
const EOL_DAY = new Date('2026-09-10T00:00:00Z');

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A Bedrock whose invoke-agent role may call `modelId` (Converse) or the agent built on it (InvokeAgent). */
async function setup(modelId: string, runtime: AgentRuntimeKind = 'converse', clock?: () => Date) {
  const iam = new LocalIam({ agentRuntime: runtime, modelId });
  const bedrock = new BedrockService({ location: iam.location, evaluator: new PolicyEvaluator(), modelId, ...(clock ? { clock } : {}) });
  const edge = new Edge({ iam, services: { bedrock }, clock: () => new Date(), logger: silentLogger });
  const endpoint = await edge.listen(0);
  const config = { endpoint, region: iam.location.region, credentials: iam.credentials('invoke-agent'), maxAttempts: 1, requestHandler: new NodeHttpHandler() };
  const runtimeClient = new BedrockRuntimeClient(config);
  const agentClient = new BedrockAgentRuntimeClient(config);
  closers.push(async () => {
    runtimeClient.destroy();
    agentClient.destroy();
    await edge.close();
  });
  const converse = (text = 'hi') => runtimeClient.send(new ConverseCommand({ modelId, messages: [{ role: 'user', content: [{ text }] }] }));
  const invoke = async (sessionId: string) => {
    const out = await agentClient.send(new InvokeAgentCommand({ agentId: LOCAL_AGENT_ID, agentAliasId: LOCAL_AGENT_ALIAS_ID, sessionId, inputText: 'hi' }));
    let text = '';
    for await (const event of out.completion!) if (event.chunk?.bytes) text += new TextDecoder().decode(event.chunk.bytes);
    return text;
  };
  return { bedrock, converse, invoke };
}

describe('the local default model', () => {
  it('is ACTIVE in the local region and callable as configured (an inference profile)', async () => {
    expect(availability(LOCAL_MODEL_ID, 'us-east-1', new Date())).toMatchObject({ available: true, status: 'ACTIVE', ref: { via: 'profile' } });
    const { converse } = await setup(LOCAL_MODEL_ID);
    expect((await converse()).output!.message!.content).toEqual([{ text: CANNOT_HELP }]);
  });
});

describe('Converse refuses what Bedrock refuses', () => {
  it('an end-of-life model: served the day before, ResourceNotFoundException (404) from 00:00 UTC of its EOL day', async () => {
    let now = DAY_BEFORE_EOL;
    const { converse, bedrock } = await setup(HAIKU_3, 'converse', () => now);
    expect((await converse()).stopReason).toBe('end_turn');
    now = EOL_DAY;
    expect(await failure(converse())).toEqual({ name: 'ResourceNotFoundException', status: 404, message: MODEL_REFUSALS.endOfLife });
    expect(bedrock.calls('Converse').map((c) => c.outcome)).toEqual(['end_turn', 'ResourceNotFoundException']);
    // Its us. profile reaches the same model, past its end of life too.
    const profile = await setup(`us.${HAIKU_3}`, 'converse', () => EOL_DAY);
    expect(await failure(profile.converse())).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
  });

  it('a profile-only model by its bare id: ValidationException naming the inference profile as the way (control: its profile answers)', async () => {
    const bare = await setup(NOVA_2_LITE);
    expect(await failure(bare.converse())).toEqual({ name: 'ValidationException', status: 400, message: MODEL_REFUSALS.onDemandUnsupported(NOVA_2_LITE) });
    const profile = await setup(`us.${NOVA_2_LITE}`);
    expect((await profile.converse()).stopReason).toBe('end_turn');
  });

  it('an unknown model: ValidationException "The provided model identifier is invalid."', async () => {
    const { converse } = await setup('anthropic.claude-none');
    expect(await failure(converse())).toEqual({ name: 'ValidationException', status: 400, message: MODEL_REFUSALS.invalidIdentifier });
  });

  it('setClock moves the lifecycle date of a running service', async () => {
    const { converse, bedrock } = await setup(HAIKU_3);
    bedrock.setClock(() => DAY_BEFORE_EOL);
    expect((await converse()).stopReason).toBe('end_turn');
    bedrock.setClock(() => EOL_DAY);
    expect(await failure(converse())).toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe("InvokeAgent refuses an agent whose model Bedrock refuses", () => {
  it('the day before the EOL it answers; on the day, ResourceNotFoundException (404)', async () => {
    let now = DAY_BEFORE_EOL;
    const { invoke } = await setup(HAIKU_3, 'bedrock-agent', () => now);
    expect(await invoke('eol-agent-1')).toBe(CANNOT_HELP);
    now = EOL_DAY;
    expect(await failure(invoke('eol-agent-1'))).toEqual({ name: 'ResourceNotFoundException', status: 404, message: MODEL_REFUSALS.endOfLife });
  });

  it('an agent on a profile-only model by its bare id is refused (control: on its profile it answers)', async () => {
    expect(await failure((await setup(NOVA_2_LITE, 'bedrock-agent')).invoke('bare-agent-1'))).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(await (await setup(`global.${NOVA_2_LITE}`, 'bedrock-agent')).invoke('profile-agent-1')).toBe(CANNOT_HELP);
  });
});

describe('faults only Converse declares', () => {
  it('ModelTimeoutException (408) and ServiceUnavailableException (503), then it recovers', async () => {
    const { converse, bedrock } = await setup(LOCAL_MODEL_ID);
    bedrock.injectFault({ kind: 'model-timeout' });
    bedrock.injectFault({ kind: 'unavailable' });
    expect(await failure(converse())).toMatchObject({ name: 'ModelTimeoutException', status: 408 });
    expect(await failure(converse())).toMatchObject({ name: 'ServiceUnavailableException', status: 503 });
    expect((await converse()).stopReason).toBe('end_turn');
  });

  it('never fire on InvokeAgent, whose error model has neither, and cannot be aimed at it', async () => {
    const { invoke, bedrock } = await setup(LOCAL_MODEL_ID, 'bedrock-agent');
    bedrock.injectFault({ kind: 'model-timeout' });
    expect(await invoke('timeout-agent-1')).toBe(CANNOT_HELP);
    expect(() => bedrock.injectFault({ kind: 'model-timeout', operation: 'InvokeAgent' })).toThrow(/no model-timeout/);
    expect(() => bedrock.injectFault({ kind: 'model-timeout', at: 'stream' })).toThrow(/not an event/);
  });
});

describe('Converse usage, counted from the text', () => {
  it('inputTokens grow with the question, totalTokens is their sum, latencyMs is set', async () => {
    const { converse } = await setup(LOCAL_MODEL_ID);
    const short = await converse('hi');
    const long = await converse(`hi ${'x'.repeat(400)}`);
    expect(long.usage!.inputTokens! - short.usage!.inputTokens!).toBe(100);
    expect(short.usage!.outputTokens).toBe(long.usage!.outputTokens);
    expect(short.usage!.totalTokens).toBe(short.usage!.inputTokens! + short.usage!.outputTokens!);
    expect(short.metrics!.latencyMs).toBeGreaterThanOrEqual(1);
  });
});
