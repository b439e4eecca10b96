/**
 * The local Bedrock's control plane over the wire, with the SDK clients the preflight uses: answers
 * from the models table, AWS's error codes, and IAM enforced (the operator may read, a task role may
 * not: the control).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BedrockClient, GetFoundationModelAvailabilityCommand, GetFoundationModelCommand, GetInferenceProfileCommand } from '@aws-sdk/client-bedrock';
import { BedrockAgentClient, ListAgentsCommand } from '@aws-sdk/client-bedrock-agent';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LOCAL_AGENT_ID, LocalIam } from '../../iam/principals.ts';
import { GEOGRAPHY_DESTINATIONS } from '../../../../tasks/models.ts';
import { BedrockService } from './service.ts';

const HAIKU_45 = 'anthropic.claude-haiku-4-5-20251001-v1:0';
const HAIKU_3 = 'anthropic.claude-3-haiku-20240307-v1:0';
let iam: LocalIam;
let bedrockService: BedrockService;
let edge: Edge;
let endpoint: string;
const destroy: { destroy(): void }[] = [];

beforeAll(async () => {
  iam = new LocalIam();
  bedrockService = new BedrockService({ location: iam.location, evaluator: new PolicyEvaluator(), clock: () => new Date('2026-12-01T00:00:00Z') });
  edge = new Edge({ iam, services: { bedrock: bedrockService }, clock: () => new Date(), logger: silentLogger });
  endpoint = await edge.listen(0);
});
afterAll(async () => {
  destroy.forEach((c) => c.destroy());
  await edge.close();
});

function clients(who: 'operator' | 'invoke-agent') {
  const config = { endpoint, region: iam.location.region, credentials: iam.credentials(who), maxAttempts: 1 };
  const c = { bedrock: new BedrockClient(config), agents: new BedrockAgentClient(config) };
  destroy.push(c.bedrock, c.agents);
  return c;
}

describe('local Bedrock control plane', () => {
  it('GetFoundationModel: an Active model on demand, an end-of-life one as LEGACY with its endOfLifeTime, a malformed id refused before IAM', async () => {
    const { bedrock } = clients('operator');
    const active = await bedrock.send(new GetFoundationModelCommand({ modelIdentifier: HAIKU_45 }));
    expect(active.modelDetails).toMatchObject({
      modelArn: `arn:aws:bedrock:us-east-1::foundation-model/${HAIKU_45}`,
      modelId: HAIKU_45,
      modelName: 'Claude Haiku 4.5',
      inferenceTypesSupported: ['ON_DEMAND'],
      modelLifecycle: { status: 'ACTIVE' },
    });
    const eol = await bedrock.send(new GetFoundationModelCommand({ modelIdentifier: `arn:aws:bedrock:us-east-1::foundation-model/${HAIKU_3}` }));
    expect(eol.modelDetails!.modelLifecycle).toEqual({ status: 'LEGACY', endOfLifeTime: new Date('2026-09-10T00:00:00Z') });
    const nova = await bedrock.send(new GetFoundationModelCommand({ modelIdentifier: 'amazon.nova-2-lite-v1:0' }));
    expect(nova.modelDetails!.inferenceTypesSupported).toEqual([]);
    // A profile id is no foundation model: IAM (the operator may read the table's models) refuses it first.
    await expect(bedrock.send(new GetFoundationModelCommand({ modelIdentifier: `us.${HAIKU_45}` }))).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
    await expect(bedrock.send(new GetFoundationModelCommand({ modelIdentifier: 'Not A Model' }))).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('GetInferenceProfile: the Region\'s geography only, routing to the destinations the table gives', async () => {
    const { bedrock } = clients('operator');
    const us = await bedrock.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: `us.${HAIKU_45}` }));
    expect(us).toMatchObject({ inferenceProfileId: `us.${HAIKU_45}`, status: 'ACTIVE', type: 'SYSTEM_DEFINED' });
    expect(us.models!.map((m) => m.modelArn)).toEqual(GEOGRAPHY_DESTINATIONS.us.map((r) => `arn:aws:bedrock:${r}::foundation-model/${HAIKU_45}`));
    await expect(bedrock.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: `eu.${HAIKU_45}` }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const global = await bedrock.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: 'global.amazon.nova-2-lite-v1:0' }));
    expect(global.inferenceProfileArn).toBe(`arn:aws:bedrock:us-east-1:${iam.location.accountId}:inference-profile/global.amazon.nova-2-lite-v1:0`);
  });

  it('GetFoundationModelAvailability and ListAgents: granted by default, withdrawn by a test, the agent listed', async () => {
    const { bedrock, agents } = clients('operator');
    expect(await bedrock.send(new GetFoundationModelAvailabilityCommand({ modelId: HAIKU_45 }))).toMatchObject({
      modelId: HAIKU_45,
      authorizationStatus: 'AUTHORIZED',
      entitlementAvailability: 'AVAILABLE',
      regionAvailability: 'AVAILABLE',
      agreementAvailability: { status: 'AVAILABLE' },
    });
    bedrockService.setModelAccess(HAIKU_45, { entitlementAvailability: 'NOT_AVAILABLE' });
    expect(await bedrock.send(new GetFoundationModelAvailabilityCommand({ modelId: HAIKU_45 }))).toMatchObject({ entitlementAvailability: 'NOT_AVAILABLE', authorizationStatus: 'AUTHORIZED' });
    bedrockService.setModelAccess(HAIKU_45, undefined);
    const listed = await agents.send(new ListAgentsCommand({}));
    expect(listed.agentSummaries!.map((a) => [a.agentId, a.agentStatus])).toEqual([[LOCAL_AGENT_ID, 'PREPARED']]);
    bedrockService.setAgentListed(false);
    expect((await agents.send(new ListAgentsCommand({}))).agentSummaries).toEqual([]);
    bedrockService.setAgentListed(true);
  });

  it('enforces IAM: a task role may read none of it (control: the operator may, above)', async () => {
    const { bedrock, agents } = clients('invoke-agent');
    for (const call of [
      () => bedrock.send(new GetFoundationModelCommand({ modelIdentifier: HAIKU_45 })),
      () => bedrock.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: `us.${HAIKU_45}` })),
      () => bedrock.send(new GetFoundationModelAvailabilityCommand({ modelId: HAIKU_45 })),
      () => agents.send(new ListAgentsCommand({})),
    ]) {
      await expect(call()).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
    }
  });
});
