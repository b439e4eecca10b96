/**
 * STS (query protocol, XML responses): AssumeRole with trust policy, session policy and session
 * tags; GetCallerIdentity. Temporary credentials are ASIA keys whose expiry the edge enforces.
 */
import { AwsError, xmlEscape, type Protocol, type WireResponse } from '../../edge/aws-error.ts';
import { validationError } from '../../edge/wire.ts';
import { accessDenied, type PolicyEvaluator } from '../../iam/evaluator.ts';
import type { EdgeCall } from '../../edge/edge.ts';
import type { LocalIam, Principal } from '../../iam/principals.ts';

const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
export const STS_PROTOCOL: Protocol = { kind: 'query', xmlns: STS_XMLNS };

/** AWS's limit for the packed session policy (plain-text inline policy). */
export const MAX_SESSION_POLICY_CHARS = 2048;
const SESSION_NAME = /^[\w+=,.@-]*$/;
/** STS, a query-protocol service, names its validation failures ValidationError. */
const VALIDATION_ERROR = 'ValidationError';

function xmlResponse(action: string, result: string, requestId: string): WireResponse {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body:
      `<${action}Response xmlns="${STS_XMLNS}">` +
      `<${action}Result>${result}</${action}Result>` +
      `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
  };
}

/** `Tags.member.1.Key=...&Tags.member.1.Value=...` → { Key: Value }. */
function memberList(params: URLSearchParams, name: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const [k, v] of params) {
    const m = new RegExp(`^${name}\\.member\\.(\\d+)\\.(\\w+)$`).exec(k);
    if (!m) continue;
    const i = Number(m[1]) - 1;
    (out[i] ??= {})[m[2]!] = v;
  }
  return out.filter(Boolean);
}

/** A role session STS granted: which role, to whom, with which session tags (never credentials). */
export interface AssumedRoleRecord {
  roleArn: string;
  callerArn: string;
  tags: Record<string, string>;
}

/** Sessions kept for tests to count, newest last. */
const MAX_SESSION_RECORDS = 1000;

export class StsService {
  readonly protocol = STS_PROTOCOL;
  private readonly records: AssumedRoleRecord[] = [];

  constructor(
    private readonly iam: LocalIam,
    private readonly evaluator: PolicyEvaluator,
    private readonly clock: () => Date,
  ) {}

  /** The role sessions granted (AssumeRole calls that succeeded), oldest first; of one role when given. */
  assumedRoles(roleArn?: string): readonly AssumedRoleRecord[] {
    return this.records.filter((r) => roleArn === undefined || r.roleArn === roleArn).map((r) => structuredClone(r));
  }

  async handle({ principal, body, requestId }: EdgeCall): Promise<WireResponse> {
    const params = new URLSearchParams(body.toString('utf8'));
    const action = params.get('Action');
    switch (action) {
      case 'AssumeRole':
        return this.assumeRole(principal, params, requestId);
      case 'GetCallerIdentity':
        return xmlResponse(
          'GetCallerIdentity',
          `<Arn>${xmlEscape(principal.arn)}</Arn><UserId>${xmlEscape(principal.userId)}</UserId>` +
            `<Account>${this.iam.location.accountId}</Account>`,
          requestId,
        );
      default:
        throw new AwsError('InvalidAction', `Could not find operation ${action ?? '(none)'} for version 2011-06-15`, 400);
    }
  }

  private async assumeRole(caller: Principal, params: URLSearchParams, requestId: string): Promise<WireResponse> {
    const roleArn = params.get('RoleArn') ?? '';
    const sessionName = params.get('RoleSessionName');
    const invalidName = (constraint: string) => validationError('roleSessionName', constraint, { value: sessionName, code: VALIDATION_ERROR });
    if (sessionName === null) throw invalidName('not be null');
    if (sessionName.length < 2) throw invalidName('have length greater than or equal to 2');
    if (sessionName.length > 64) throw invalidName('have length less than or equal to 64');
    if (!SESSION_NAME.test(sessionName)) throw invalidName('satisfy regular expression pattern: [\\w+=,.@-]*');
    const duration = Number(params.get('DurationSeconds') ?? '3600');
    if (!Number.isInteger(duration)) throw new AwsError(VALIDATION_ERROR, 'DurationSeconds must be a whole number of seconds.', 400);
    if (duration < 900) throw validationError('durationSeconds', 'have value greater than or equal to 900', { value: duration, code: VALIDATION_ERROR });
    // The role's MaxSessionDuration (3600 s, the default) bounds it from above: AWS words that apart.
    if (duration > 3600) throw new AwsError(VALIDATION_ERROR, 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.', 400);
    if (memberList(params, 'PolicyArns').length > 0) {
      throw new AwsError('ValidationError', 'Managed session policies (PolicyArns) are not supported by the local STS.', 400);
    }
    const tagList = memberList(params, 'Tags');
    const tags: Record<string, string> = {};
    const seenKeys = new Set<string>();
    for (const t of tagList) {
      if (!t.Key || t.Value === undefined) throw new AwsError('ValidationError', 'Each session tag needs a Key and a Value.', 400);
      if (seenKeys.has(t.Key.toLowerCase())) {
        throw new AwsError('InvalidParameterValue', `Duplicate tag keys found. Please note that Tag keys are case insensitive.`, 400);
      }
      seenKeys.add(t.Key.toLowerCase());
      tags[t.Key] = t.Value;
    }
    if (params.has('TransitiveTagKeys.member.1')) {
      throw new AwsError('ValidationError', 'Transitive session tags are not supported by the local STS.', 400);
    }
    let sessionPolicy: Principal['sessionPolicy'];
    const policyText = params.get('Policy');
    if (policyText !== null) {
      if (policyText.length > MAX_SESSION_POLICY_CHARS) {
        throw new AwsError('PackedPolicyTooLarge', 'Packed policy consumes more than 100% of allotted space.', 400);
      }
      try {
        sessionPolicy = JSON.parse(policyText) as Principal['sessionPolicy'];
      } catch {
        throw new AwsError('MalformedPolicyDocument', 'The policy is not in the valid JSON format.', 400);
      }
    }

    const role = this.iam.roleByArn(roleArn);
    const denied = (action: string) =>
      accessDenied({ principal: caller, action, resource: roleArn }, { allowed: false, explicit: false, deniedBy: 'identity-based policy' }, 'AccessDenied');
    if (!role || !role.trustPolicy) throw denied('sts:AssumeRole');

    // Both the caller's identity policies and the role's trust policy must allow the call; the
    // requested tags are part of the AssumeRole request context, and TagSession is checked as well.
    const tagContext: Record<string, string | string[]> = {};
    if (tagList.length > 0) tagContext['aws:TagKeys'] = Object.keys(tags);
    for (const [k, v] of Object.entries(tags)) tagContext[`aws:RequestTag/${k}`] = v;
    const decision = await this.evaluator.evaluate({
      principal: caller,
      action: 'sts:AssumeRole',
      resource: roleArn,
      context: tagContext,
      resourcePolicy: role.trustPolicy,
    });
    if (!decision.allowed) throw accessDenied({ principal: caller, action: 'sts:AssumeRole', resource: roleArn }, decision, 'AccessDenied');
    if (tagList.length > 0) {
      const tagDecision = await this.evaluator.evaluate({
        principal: caller,
        action: 'sts:TagSession',
        resource: roleArn,
        context: tagContext,
        resourcePolicy: role.trustPolicy,
      });
      if (!tagDecision.allowed) throw accessDenied({ principal: caller, action: 'sts:TagSession', resource: roleArn }, tagDecision, 'AccessDenied');
    }

    const now = this.clock();
    const expiresAt = new Date(Math.floor(now.getTime() / 1000) * 1000 + duration * 1000);
    const { partition, accountId } = this.iam.location;
    const sessionArn = `arn:${partition}:sts::${accountId}:assumed-role/${role.name}/${sessionName}`;
    const assumedRoleId = `${role.roleId}:${sessionName}`;
    const creds = this.iam.createSession({
      arn: sessionArn,
      ownerArn: role.arn,
      userId: assumedRoleId,
      identityPolicies: role.identityPolicies,
      ...(sessionPolicy ? { sessionPolicy } : {}),
      tags,
      expiresAt,
    });
    this.iam.pruneSessions(now);
    this.records.push({ roleArn: role.arn, callerArn: caller.arn, tags: { ...tags } });
    if (this.records.length > MAX_SESSION_RECORDS) this.records.shift();
    const packed = policyText === null ? '' : `<PackedPolicySize>${Math.ceil((policyText.length / MAX_SESSION_POLICY_CHARS) * 100)}</PackedPolicySize>`;
    return xmlResponse(
      'AssumeRole',
      `<AssumedRoleUser><Arn>${xmlEscape(sessionArn)}</Arn><AssumedRoleId>${xmlEscape(assumedRoleId)}</AssumedRoleId></AssumedRoleUser>` +
        `<Credentials><AccessKeyId>${creds.accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(creds.secretAccessKey)}</SecretAccessKey>` +
        `<SessionToken>${xmlEscape(creds.sessionToken!)}</SessionToken><Expiration>${expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}</Expiration></Credentials>` +
        packed,
      requestId,
    );
  }
}
