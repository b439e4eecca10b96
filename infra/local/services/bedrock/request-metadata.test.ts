/**
 * Converse and ConverseStream's requestMetadata on the local Bedrock, through the real SDK client:
 * accepted and recorded within Bedrock's limits (keys 1-256, values 0-256 characters, the service
 * model's character set), refused with ValidationException beyond them, before the model runs, and
 * without quoting the (sensitive) member. docs/fidelity.md cites the pages.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LOCAL_MODEL_ID, LocalIam } from '../../iam/principals.ts';
import { BedrockService } from './service.ts';
import { failure } from '../../../../test/aws-failure.ts';

const iam = new LocalIam({ agentRuntime: 'converse' });
const bedrock = new BedrockService({ location: iam.location, evaluator: new PolicyEvaluator() });
const edge = new Edge({ iam, services: { bedrock }, clock: () => new Date(), logger: silentLogger });
let client: BedrockRuntimeClient;

beforeAll(async () => {
  const endpoint = await edge.listen(0);
  client = new BedrockRuntimeClient({ endpoint, region: iam.location.region, credentials: iam.credentials('invoke-agent'), maxAttempts: 1, requestHandler: new NodeHttpHandler() });
});
afterAll(async () => {
  client.destroy();
  await edge.close();
});
beforeEach(() => bedrock.reset());

const messages = [{ role: 'user' as const, content: [{ text: 'hi' }] }];
const converse = (requestMetadata: Record<string, string>) => client.send(new ConverseCommand({ modelId: LOCAL_MODEL_ID, messages, requestMetadata }));
const converseStream = async (requestMetadata: Record<string, string>) => {
  const out = await client.send(new ConverseStreamCommand({ modelId: LOCAL_MODEL_ID, messages, requestMetadata }));
  for await (const event of out.stream!) void event;
};

describe('requestMetadata', () => {
  it.each([
    ['a tenant id', { tenantId: 'tenant1' }],
    ['the whole character set, with an empty value', { 'tenant Id:_@$#=/+,-.9': 'a b:_@$#=/+,-.Z0', plan: '' }],
    ['a key and a value of 256 characters', { ['k'.repeat(256)]: 'v'.repeat(256) }],
  ])('accepts %s, on Converse and ConverseStream, and records it', async (_what, metadata) => {
    await expect(converse(metadata)).resolves.toMatchObject({ stopReason: 'end_turn' });
    await converseStream(metadata);
    expect(bedrock.calls().map((c) => [c.operation, c.requestMetadata])).toEqual([
      ['Converse', metadata],
      ['ConverseStream', metadata],
    ]);
  });

  it.each([
    ['an empty key', { '': 'x' }, 'keys of length'],
    ['a key of 257 characters', { ['k'.repeat(257)]: 'x' }, 'keys of length'],
    ['a value of 257 characters', { tenantId: 'v'.repeat(257) }, 'values of length'],
    ['a character outside the set in a value', { tenantId: 'tenant1;drop' }, 'regular expression pattern'],
    ['a character outside the set in a key', { 'tenant!': 'x' }, 'regular expression pattern'],
    ['a non-ASCII letter', { tenantId: 'tenänt1' }, 'regular expression pattern'],
  ])('refuses %s with ValidationException before the model runs, without quoting it (control: the accepted cases above)', async (_what, metadata, constraint) => {
    for (const call of [converse, converseStream]) {
      const err = await failure(call(metadata));
      expect(err).toMatchObject({ name: 'ValidationException', status: 400, message: expect.stringContaining(constraint) });
      expect(err.message).toContain("'requestMetadata'");
      for (const [k, v] of Object.entries(metadata)) {
        if (k.length > 3) expect(err.message).not.toContain(k);
        if (v.length > 3) expect(err.message).not.toContain(v);
      }
    }
    expect(bedrock.calls().map((c) => c.outcome)).toEqual(['ValidationException', 'ValidationException']);
  });
});
