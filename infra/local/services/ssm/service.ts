/**
 * Systems Manager Parameter Store (JSON 1.1, target `AmazonSSM.<Operation>`, signing name `ssm`),
 * the one operation the project's tooling reads: GetParameter, for the CDK bootstrap stack's version
 * parameter (`/cdk-bootstrap/<qualifier>/version`), which `npm run preflight` checks as `cdk deploy`
 * does. Requests are authenticated by the edge and authorised here by IAM policy: `ssm:GetParameter`
 * on the parameter's ARN (`arn:aws:ssm:<region>:<account>:parameter/<name without its leading />`).
 *
 * The parameters are the stand-in's own state, written by the local stack (`putParameter`: the local
 * account is bootstrapped as `cdk bootstrap` leaves an account) and removed by tests
 * (`deleteParameter`: an account that was never bootstrapped). A name that does not exist is
 * ParameterNotFound (400); the documentation does not give that error's message, so none is sent.
 */
import { AwsError, jsonResponse, parseJsonBody, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import type { EdgeCall } from '../../edge/edge.ts';
import { optionalBoolean, requiredString, validationError } from '../../edge/wire.ts';
import type { PolicyEvaluator } from '../../iam/evaluator.ts';
import type { AwsLocation } from '../../../../tasks/aws-location.ts';

export const SSM_PROTOCOL: Protocol = { kind: 'json', version: '1.1', errorPrefix: '' };
const TARGET_PREFIX = 'AmazonSSM.';
/** GetParameter's Name: "Length Constraints: Minimum length of 1. Maximum length of 2048." */
const MAX_NAME = 2048;

interface StoredParameter {
  value: string;
  version: number;
  lastModified: Date;
}

export class SsmService {
  readonly protocol = SSM_PROTOCOL;
  private readonly parameters = new Map<string, StoredParameter>();

  constructor(
    private readonly location: AwsLocation,
    private readonly evaluator: PolicyEvaluator,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** `arn:aws:ssm:<region>:<account>:parameter/<name>`: a leading `/` of a hierarchical name is not doubled. */
  parameterArn(name: string): string {
    const { partition, region, accountId } = this.location;
    return `arn:${partition}:ssm:${region}:${accountId}:parameter/${name.replace(/^\//, '')}`;
  }

  /** Writes a String parameter (a new version when it exists), as PutParameter with Overwrite would. */
  putParameter(name: string, value: string): void {
    const previous = this.parameters.get(name);
    this.parameters.set(name, { value, version: (previous?.version ?? 0) + 1, lastModified: this.clock() });
  }

  deleteParameter(name: string): boolean {
    return this.parameters.delete(name);
  }

  async handle({ principal, target, body, requestId }: EdgeCall): Promise<WireResponse> {
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    if (operation !== 'GetParameter') {
      throw new AwsError('UnknownOperationException', `Operation ${operation || target || '(none)'} is not supported by the local Systems Manager.`, 400);
    }
    const input = parseJsonBody(body);
    const name = requiredString(input, 'Name');
    if (name.length > MAX_NAME) throw validationError('name', `have length less than or equal to ${MAX_NAME}`);
    optionalBoolean(input, 'WithDecryption');
    await this.evaluator.authorize({ principal, action: 'ssm:GetParameter', resource: this.parameterArn(name) });
    const stored = this.parameters.get(name);
    if (!stored) throw new AwsError('ParameterNotFound', '', 400);
    return jsonResponse(
      SSM_PROTOCOL,
      {
        Parameter: {
          Name: name,
          Type: 'String',
          Value: stored.value,
          Version: stored.version,
          // JSON 1.1 timestamps are epoch seconds.
          LastModifiedDate: stored.lastModified.getTime() / 1000,
          ARN: this.parameterArn(name),
          DataType: 'text',
        },
      },
      requestId,
    );
  }
}
