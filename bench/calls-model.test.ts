import { describe, expect, it } from 'vitest';
import {
  ceilingOf,
  lastLine,
  lowestCeiling,
  operationName,
  purposeOf,
  roleName,
  successPath,
  tenantCeilingLine,
  type Quota,
} from './calls-model.ts';

describe('calls-model: naming the requests the edge logged', () => {
  it('takes the operation from a JSON target, a query Action, or a REST path', () => {
    expect(operationName('dynamodb', 'DynamoDB_20120810.TransactWriteItems')).toBe('TransactWriteItems');
    expect(operationName('kms', 'TrentService.Decrypt')).toBe('Decrypt');
    expect(operationName('sts', 'AssumeRole')).toBe('AssumeRole');
    expect(operationName('bedrock', 'POST /model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse-stream')).toBe('ConverseStream');
    expect(operationName('bedrock', 'POST /model/m/converse')).toBe('Converse');
    expect(operationName('bedrock', 'POST /agents/A1/agentAliases/B2/sessions/s/text')).toBe('InvokeAgent');
    expect(operationName('dynamodb', undefined)).toBe('unknown');
    // A REST path of no known operation is kept as logged.
    expect(operationName('other', 'GET /something')).toBe('GET /something');
  });

  it("takes the role from an assumed-role ARN, the last segment of another principal's", () => {
    expect(roleName('arn:aws:sts::000000000000:assumed-role/validate-context/validate-context')).toBe('validate-context');
    expect(roleName('arn:aws:sts::000000000000:assumed-role/tenant-access/t-tenant1.u1')).toBe('tenant-access');
    expect(roleName('arn:aws:iam::000000000000:user/operator')).toBe('operator');
    expect(roleName(undefined)).toBe('anonymous');
  });

  it('names the purpose of each call a question makes; the same operation by another role is another purpose', () => {
    expect(purposeOf({ service: 'dynamodb', operation: 'PutItem', role: 'validate-context' })).toBe('validate-context: claim the answerId (idempotency)');
    expect(purposeOf({ service: 'dynamodb', operation: 'TransactWriteItems', role: 'appsync-usage-data-source' })).toMatch(/^admission \(data source\): /);
    expect(purposeOf({ service: 'dynamodb', operation: 'TransactWriteItems', role: 'invoke-agent' })).toMatch(/metering/);
    expect(purposeOf({ service: 'dynamodb', operation: 'Query', role: 'invoke-agent' })).toMatch(/conversation memory/);
    expect(purposeOf({ service: 'sts', operation: 'AssumeRole', role: 'mint-credentials' })).toMatch(/scoped session/);
    expect(purposeOf({ service: 'sts', operation: 'AssumeRole', role: 'invoke-agent' })).toMatch(/publish role/);
    expect(purposeOf({ service: 'states', operation: 'StartExecution', role: 'appsync-api' })).toMatch(/start the workflow/);
  });
});

describe('calls-model: the ceilings', () => {
  const quota = (over: Partial<Quota>): Quota => ({ name: 'q', scope: 'platform', defaultValue: 1000, unit: 'requests/s', source: 's', perQuestion: 2, ...over });

  it('divides the default by the calls per question; a per-minute quota by 60 first', () => {
    expect(ceilingOf(quota({}))).toBe(500);
    expect(ceilingOf(quota({ unit: 'requests/min', defaultValue: 600 }))).toBe(5);
  });

  it('sets no ceiling without a documented default, or when a question makes no such call', () => {
    expect(ceilingOf(quota({ defaultValue: undefined }))).toBeUndefined();
    expect(ceilingOf(quota({ perQuestion: 0 }))).toBeUndefined();
  });

  it('picks the lowest known ceiling, skipping the unknown ones', () => {
    const quotas = [quota({ name: 'a', defaultValue: 10_000 }), quota({ name: 'b', defaultValue: undefined }), quota({ name: 'c', defaultValue: 1_000, perQuestion: 4 })];
    expect(lowestCeiling(quotas)).toEqual({ quota: quotas[2], ceiling: 250 });
    expect(lowestCeiling([quota({ defaultValue: undefined })])).toBeUndefined();
  });

  it("sets the platform's ceiling by platform quotas only; a tenant's quota, however low, sets the tenant's line", () => {
    const tenant = quota({ name: 'partition', scope: 'tenant', defaultValue: 1_000, perQuestion: 40 });
    const platform = quota({ name: 'model', defaultValue: 1_000, perQuestion: 20 });
    expect(lowestCeiling([tenant, platform])).toEqual({ quota: platform, ceiling: 50 });
    expect(lowestCeiling([tenant, platform], 'tenant')).toEqual({ quota: tenant, ceiling: 25 });
    // Control: the same partition quota as a platform one would set the platform's ceiling.
    expect(lowestCeiling([{ ...tenant, scope: 'platform' }, platform])?.quota.name).toBe('partition');
    expect(lowestCeiling([platform], 'tenant')).toBeUndefined();
  });

  it("prints one tenant's ceiling on its own line", () => {
    const tenant = quota({ name: 'DynamoDB per-partition writes', scope: 'tenant', unit: 'WCU/s', defaultValue: 1_000, perQuestion: 10 });
    expect(tenantCeilingLine({ quota: tenant, ceiling: 100 })).toBe("one tenant's ceiling: 100 questions/s, set by DynamoDB per-partition writes: 10 WCU per question, 1,000 WCU/s");
    expect(tenantCeilingLine(undefined)).toMatch(/^one tenant's ceiling: unknown/);
  });

  it('follows the success path from StartAt to End', () => {
    const def = { StartAt: 'A', States: { A: { Type: 'Task', Next: 'B' }, B: { Type: 'Task', End: true }, F: { Type: 'Fail' } } };
    expect(successPath(def)).toEqual(['A', 'B']);
  });

  it("prints the issue's last line", () => {
    const per = new Map([
      ['dynamodb', 7],
      ['kms', 2],
      ['bedrock', 2],
      ['states', 1],
    ]);
    expect(lastLine(per, 6, { quota: quota({ name: 'KMS' }), ceiling: 5000 })).toBe(
      'calls per warm question: 12 (sts 0, cognito-idp 0, kms 2, dynamodb 7, bedrock 2, states 1); publishes 6; ceiling 5000 questions/s, set by KMS',
    );
  });
});
