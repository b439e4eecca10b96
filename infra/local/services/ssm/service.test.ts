/**
 * The local Parameter Store over the wire, with the SDK: GetParameter of the CDK bootstrap version
 * as the preflight reads it, ParameterNotFound for a name that does not exist, and IAM enforced
 * (the operator may read the bootstrap parameters, a task role may not: the control).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { Edge } from '../../edge/edge.ts';
import { silentLogger } from '../../edge/log.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { LocalIam } from '../../iam/principals.ts';
import { SsmService } from './service.ts';

const NAME = '/cdk-bootstrap/hnb659fds/version';
let iam: LocalIam;
let ssm: SsmService;
let edge: Edge;
let endpoint: string;
const clients: SSMClient[] = [];

beforeAll(async () => {
  iam = new LocalIam();
  ssm = new SsmService(iam.location, new PolicyEvaluator(), () => new Date('2026-12-01T00:00:00Z'));
  edge = new Edge({ iam, services: { ssm }, clock: () => new Date(), logger: silentLogger });
  endpoint = await edge.listen(0);
});
afterAll(async () => {
  clients.forEach((c) => c.destroy());
  await edge.close();
});

function client(who: 'operator' | 'invoke-agent'): SSMClient {
  const c = new SSMClient({ endpoint, region: iam.location.region, credentials: iam.credentials(who), maxAttempts: 1 });
  clients.push(c);
  return c;
}

describe('local SSM GetParameter', () => {
  it('answers the parameter in GetParameter\'s shape, each write a new version', async () => {
    ssm.putParameter(NAME, '30');
    ssm.putParameter(NAME, '33');
    const out = await client('operator').send(new GetParameterCommand({ Name: NAME }));
    expect(out.Parameter).toEqual({
      Name: NAME,
      Type: 'String',
      Value: '33',
      Version: 2,
      LastModifiedDate: new Date('2026-12-01T00:00:00Z'),
      ARN: `arn:aws:ssm:us-east-1:${iam.location.accountId}:parameter/cdk-bootstrap/hnb659fds/version`,
      DataType: 'text',
    });
  });

  it('refuses a name that does not exist with ParameterNotFound (400)', async () => {
    await expect(client('operator').send(new GetParameterCommand({ Name: '/cdk-bootstrap/other/version' }))).rejects.toMatchObject({
      name: 'ParameterNotFound',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('enforces IAM: a task role may not read the bootstrap parameter (control: the operator may)', async () => {
    await expect(client('invoke-agent').send(new GetParameterCommand({ Name: NAME }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:'),
    });
    await expect(client('operator').send(new GetParameterCommand({ Name: NAME }))).resolves.toBeDefined();
  });
});
