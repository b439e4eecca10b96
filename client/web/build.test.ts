import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './src/config.ts';
import { awsWebConfig, webSourceHash, writeWebConfig } from './build.ts';

const outputs = {
  MultiTenantAiAssistant: {
    GraphqlUrl: 'https://abc.appsync-api.eu-west-1.amazonaws.com/graphql',
    RealtimeUrl: 'wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/graphql',
    UserPoolId: 'eu-west-1_abc',
    UserPoolClientId: 'client123',
    Region: 'eu-west-1',
  },
};

describe('building the web UI', () => {
  it('takes the AWS config from cdk-outputs.json, in the shape the UI reads', async () => {
    const config = awsWebConfig(outputs);
    expect(config).toEqual({
      mode: 'aws',
      region: 'eu-west-1',
      userPool: { clientId: 'client123' },
      graphqlUrl: outputs.MultiTenantAiAssistant.GraphqlUrl,
      realtimeUrl: outputs.MultiTenantAiAssistant.RealtimeUrl,
    });
    const dir = await mkdtemp(path.join(tmpdir(), 'web-config-'));
    try {
      const file = await writeWebConfig(dir, config);
      expect(parseConfig(JSON.parse(await readFile(file, 'utf8')))).toEqual(config);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says what is missing in cdk-outputs.json', () => {
    expect(() => awsWebConfig({})).toThrow('run npm run deploy first');
    expect(() => awsWebConfig({ ...outputs, Other: outputs.MultiTenantAiAssistant })).toThrow('pass --stack');
    expect(awsWebConfig({ ...outputs, Other: outputs.MultiTenantAiAssistant }, 'Other').region).toBe('eu-west-1');
    const { Region: _region, ...noRegion } = outputs.MultiTenantAiAssistant;
    expect(() => awsWebConfig({ S: noRegion })).toThrow('no Region output');
  });

  it('caches by a stable hash of the sources', () => {
    expect(webSourceHash()).toMatch(/^[0-9a-f]{16}$/);
    expect(webSourceHash()).toBe(webSourceHash());
  });
});
