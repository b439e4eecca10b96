import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ASK_OUTPUTS, DeployOutputsError, EXECUTIONS_OUTPUTS, readDeployOutputs, STACK_NAME } from './targets.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cdk-outputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, content);
  return f;
}

const complete = {
  Region: 'eu-west-1',
  GraphqlUrl: 'https://abc.appsync-api.eu-west-1.amazonaws.com/graphql',
  RealtimeUrl: 'wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/graphql',
  UserPoolId: 'eu-west-1_abc',
  UserPoolClientId: 'client123',
  StateMachineArn: 'arn:aws:states:eu-west-1:111111111111:stateMachine:MultiTenantAiAssistant-assistant',
  StateMachineLogGroupName: '/aws/vendedlogs/states/MultiTenantAiAssistant-assistant',
  RunsTableName: 'MultiTenantAiAssistant-runs',
  SeedUserPasswordCommand: 'aws secretsmanager get-secret-value ...',
};

describe('cdk-outputs.json', () => {
  it('returns exactly the keys asked for, from the stack as cdk deploy writes it', () => {
    const f = file('ok.json', JSON.stringify({ [STACK_NAME]: complete }));
    expect(readDeployOutputs(ASK_OUTPUTS, f)).toEqual({
      Region: complete.Region,
      GraphqlUrl: complete.GraphqlUrl,
      RealtimeUrl: complete.RealtimeUrl,
      UserPoolId: complete.UserPoolId,
      UserPoolClientId: complete.UserPoolClientId,
    });
    expect(Object.keys(readDeployOutputs(EXECUTIONS_OUTPUTS, f)).sort()).toEqual([...EXECUTIONS_OUTPUTS].sort());
  });

  it('a missing file says to deploy', () => {
    const missing = path.join(dir, 'nope.json');
    expect(() => readDeployOutputs(ASK_OUTPUTS, missing)).toThrow(DeployOutputsError);
    expect(() => readDeployOutputs(ASK_OUTPUTS, missing)).toThrow(`${missing} not found. Deploy (or redeploy) with npm run deploy, which writes cdk-outputs.json.`);
  });

  it('names the missing keys (an older deployment) and says to deploy', () => {
    const { StateMachineLogGroupName: _l, RunsTableName: _r, ...older } = complete;
    const f = file('older.json', JSON.stringify({ [STACK_NAME]: older }));
    expect(() => readDeployOutputs(EXECUTIONS_OUTPUTS, f)).toThrow(/lacks StateMachineLogGroupName, RunsTableName for stack MultiTenantAiAssistant\. Deploy \(or redeploy\) with npm run deploy/);
    expect(readDeployOutputs(ASK_OUTPUTS, f).Region).toBe('eu-west-1');
  });

  it('reads the one stack of a deployment named with -c stackName; names the stacks it has when ours is not one of several', () => {
    const named = file('named.json', JSON.stringify({ AssistantBlue: complete }));
    expect(readDeployOutputs(ASK_OUTPUTS, named).UserPoolId).toBe(complete.UserPoolId);
    const two = file('two.json', JSON.stringify({ AssistantBlue: complete, AssistantGreen: complete }));
    expect(() => readDeployOutputs(ASK_OUTPUTS, two)).toThrow(/has no outputs of stack MultiTenantAiAssistant \(it has: AssistantBlue, AssistantGreen\)/);
  });

  it('refuses a file that is not JSON', () => {
    const broken = file('broken.json', '{ "MultiTenantAiAssistant": ');
    expect(() => readDeployOutputs(ASK_OUTPUTS, broken)).toThrow(/is not valid JSON\. Deploy/);
  });

  it('treats an empty value as missing', () => {
    const f = file('empty.json', JSON.stringify({ [STACK_NAME]: { ...complete, UserPoolClientId: '' } }));
    expect(() => readDeployOutputs(ASK_OUTPUTS, f)).toThrow(/lacks UserPoolClientId/);
  });
});
