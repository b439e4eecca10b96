import { describe, expect, it } from 'vitest';
import { parseConfig, resolveEndpoints } from './config.ts';

describe('the UI config', () => {
  it('resolves same-origin endpoints against the page, and ws(s) for realtime', () => {
    expect(resolveEndpoints({ graphqlUrl: '/graphql', realtimeUrl: '/graphql/realtime' }, 'http://localhost:3000/#/')).toEqual({
      graphqlUrl: 'http://localhost:3000/graphql',
      realtimeUrl: 'ws://localhost:3000/graphql/realtime',
    });
    const aws = { graphqlUrl: 'https://x.appsync-api.eu-west-1.amazonaws.com/graphql', realtimeUrl: 'wss://x.appsync-realtime-api.eu-west-1.amazonaws.com/graphql' };
    expect(resolveEndpoints(aws, 'https://example.com/app/')).toEqual(aws);
  });

  it('refuses a config without what the UI needs', () => {
    const good = { mode: 'aws', region: 'eu-west-1', userPool: { clientId: 'c' }, graphqlUrl: '/g', realtimeUrl: '/r' };
    expect(parseConfig(good)).toEqual(good);
    expect(() => parseConfig({ ...good, userPool: {} })).toThrow('userPool.clientId');
    expect(() => parseConfig({ ...good, operator: { endpoint: 'x' } })).toThrow('operator');
    const operator = { endpoint: 'http://127.0.0.1:4566', region: 'eu-west-1', stateMachineArn: 'arn:sm', runsTable: 'runs', configTable: 'config', tablePrefix: '', userPoolId: 'p' };
    expect(parseConfig({ ...good, operator }).operator).toEqual(operator);
    // The tenants view needs the config table and the user pool.
    expect(() => parseConfig({ ...good, operator: { ...operator, userPoolId: undefined } })).toThrow('operator (tenants view)');
    expect(() => parseConfig({ ...good, operator: { ...operator, configTable: '' } })).toThrow('operator (tenants view)');
    expect(() => parseConfig(null)).toThrow('the document');
  });
});
