/**
 * Policy evaluation for the stand-ins: identity policies intersected with the session policy (and a
 * resource policy where the service has one, such as a role's trust policy), evaluated by
 * `@cloud-copilot/iam-simulate`. Decisions are memoised: they are a pure function of the principal's
 * policies, the action, the resource and the request context keys those policies read.
 *
 * iam-simulate is AGPL-licensed: it is used here, in infra/local, and never bundled into a Lambda.
 */
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { PolicyDocument } from '../../../tasks/policies.ts';
import { AwsError } from '../edge/aws-error.ts';
import type { Principal } from './principals.ts';

export type ContextValues = Record<string, string | string[]>;

export interface AuthorizationRequest {
  principal: Principal;
  action: string;
  resource: string;
  context?: ContextValues;
  /** A resource-based policy (a role trust policy, a key policy), if the service has one. */
  resourcePolicy?: PolicyDocument;
}

export type Decision =
  | { allowed: true }
  | { allowed: false; explicit: boolean; deniedBy: 'identity-based policy' | 'session policy' | 'resource-based policy' };

const CACHE_LIMIT = 20_000;

export class PolicyEvaluator {
  private readonly cache = new Map<string, Decision>();
  /** Statistics, for the benchmark and for tests that prove evaluation happened. */
  readonly stats = { evaluations: 0, cacheHits: 0 };

  constructor(private readonly options: { cache?: boolean } = {}) {}

  async evaluate(req: AuthorizationRequest): Promise<Decision> {
    const context = { ...principalContext(req.principal), ...req.context };
    const useCache = this.options.cache !== false;
    const key = useCache ? cacheKey(req, relevantContext(req, context)) : '';
    if (useCache) {
      const hit = this.cache.get(key);
      if (hit) {
        this.stats.cacheHits++;
        return hit;
      }
    }
    this.stats.evaluations++;
    const accountId = req.principal.arn.split(':')[4] ?? '';
    const simulation: Simulation = {
      request: {
        principal: req.principal.arn,
        action: req.action,
        resource: { resource: req.resource, accountId },
        contextVariables: context,
      },
      identityPolicies: req.principal.identityPolicies,
      sessionPolicy: req.principal.sessionPolicy,
      resourcePolicy: req.resourcePolicy,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    };
    const result = await runSimulation(simulation, {});
    if (result.resultType === 'error') {
      // A policy or request the simulator cannot evaluate is a defect of ours, not a denial to hide.
      throw new AwsError('InternalFailure', `Policy evaluation failed: ${result.errors.message}`, 500);
    }
    if (result.resultType !== 'single') {
      throw new AwsError('InternalFailure', `Unexpected wildcard resource in authorization: ${req.resource}`, 500);
    }
    const decision = toDecision(result.result.analysis, result.overallResult);
    if (useCache) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, decision);
    }
    return decision;
  }

  /** Evaluates and throws AWS's AccessDeniedException shape on denial. */
  async authorize(req: AuthorizationRequest, errorCode = 'AccessDeniedException'): Promise<void> {
    const decision = await this.evaluate(req);
    if (!decision.allowed) throw accessDenied(req, decision, errorCode);
  }
}

export function accessDenied(
  req: Pick<AuthorizationRequest, 'principal' | 'action' | 'resource'>,
  decision: Extract<Decision, { allowed: false }>,
  errorCode = 'AccessDeniedException',
): AwsError {
  const why = decision.explicit
    ? `with an explicit deny in a ${decision.deniedBy}`
    : `because no ${decision.deniedBy} allows the ${req.action} action`;
  return new AwsError(
    errorCode,
    `User: ${req.principal.arn} is not authorized to perform: ${req.action} on resource: ${req.resource} ${why}`,
    errorCode === 'AccessDenied' ? 403 : 400,
  );
}

type Analysis = NonNullable<Extract<Awaited<ReturnType<typeof runSimulation>>, { resultType: 'single' }>['result']['analysis']>;

function toDecision(analysis: Analysis, overall: string): Decision {
  if (overall === 'Allowed') return { allowed: true };
  const explicit = overall === 'ExplicitlyDenied';
  if (analysis.identityAnalysis && analysis.identityAnalysis.result !== 'Allowed') {
    return { allowed: false, explicit: analysis.identityAnalysis.result === 'ExplicitlyDenied', deniedBy: 'identity-based policy' };
  }
  if (analysis.sessionAnalysis && analysis.sessionAnalysis.result !== 'Allowed') {
    return { allowed: false, explicit: analysis.sessionAnalysis.result === 'ExplicitlyDenied', deniedBy: 'session policy' };
  }
  if (analysis.resourceAnalysis && analysis.resourceAnalysis.result !== 'Allowed') {
    return { allowed: false, explicit, deniedBy: 'resource-based policy' };
  }
  return { allowed: false, explicit, deniedBy: 'identity-based policy' };
}

/** The global condition keys AWS derives from the caller. */
function principalContext(principal: Principal): ContextValues {
  const ctx: ContextValues = {
    'aws:PrincipalArn': principal.ownerArn,
    'aws:PrincipalAccount': principal.arn.split(':')[4] ?? '',
    'aws:userid': principal.userId,
    'aws:SecureTransport': 'false',
  };
  const tagKeys = Object.keys(principal.tags);
  for (const k of tagKeys) ctx[`aws:PrincipalTag/${k}`] = principal.tags[k]!;
  return ctx;
}

/**
 * The context keys a policy document can read, lower-cased (IAM matches them case-insensitively):
 * the keys of its conditions and the `${...}` policy variables anywhere in it. Null when the
 * document is not of a shape this can read with certainty; then every key counts.
 */
function readKeys(policy: unknown): ReadonlySet<string> | null {
  if (typeof policy !== 'object' || policy === null) return null;
  const statements = (policy as { Statement?: unknown }).Statement;
  const list = Array.isArray(statements) ? statements : [statements];
  const keys = new Set<string>();
  for (const statement of list) {
    if (typeof statement !== 'object' || statement === null) return null;
    const condition = (statement as { Condition?: unknown }).Condition;
    if (condition === undefined) continue;
    if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) return null;
    for (const block of Object.values(condition)) {
      if (typeof block !== 'object' || block === null || Array.isArray(block)) return null;
      for (const k of Object.keys(block)) {
        // A key that is itself a pattern or holds a variable: not something to reason about here.
        if (/[*?$]/.test(k)) return null;
        keys.add(k.toLowerCase());
      }
    }
  }
  for (const m of JSON.stringify(policy).matchAll(/\$\{([^}]*)\}/g)) keys.add(m[1]!.split(',')[0]!.trim().toLowerCase());
  return keys;
}

/** readKeys per policy document object (the documents are built once and never mutated). */
const readKeysMemo = new WeakMap<object, ReadonlySet<string> | null>();

function policyReadKeys(policy: unknown): ReadonlySet<string> | null {
  if (typeof policy !== 'object' || policy === null) return readKeys(policy);
  let keys = readKeysMemo.get(policy);
  if (keys === undefined) {
    keys = readKeys(policy);
    readKeysMemo.set(policy, keys);
  }
  return keys;
}

/**
 * The part of the context that can change the decision: the keys some policy of the request reads.
 * The simulator reads the request context only through condition keys and policy variables, so a
 * key that no policy names (the `answerId` of a KMS encryption context, say) cannot change the
 * decision and would only make every cache key unique. The whole context when any policy is
 * unreadable.
 */
function relevantContext(req: AuthorizationRequest, context: ContextValues): ContextValues {
  const policies: unknown[] = [...req.principal.identityPolicies.map((p) => p.policy), req.principal.sessionPolicy, req.resourcePolicy];
  const read = new Set<string>();
  for (const policy of policies) {
    if (policy === undefined) continue;
    const keys = policyReadKeys(policy);
    if (keys === null) return context;
    for (const k of keys) read.add(k);
  }
  const out: ContextValues = {};
  for (const [k, v] of Object.entries(context)) if (read.has(k.toLowerCase())) out[k] = v;
  return out;
}

function cacheKey(req: AuthorizationRequest, context: ContextValues): string {
  const ctx = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return JSON.stringify([
    req.principal.userId,
    req.principal.sessionPolicy ?? null,
    req.action,
    req.resource,
    ctx,
    req.resourcePolicy ?? null,
  ]);
}
