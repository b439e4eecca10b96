/**
 * The deployment preflight (`npm run preflight`, and the first step of `npm run deploy`): with the
 * caller's credentials and Region, what a new account would otherwise learn from a failed deploy or
 * from questions that all end FAILED. Each check reads one AWS answer:
 *
 *  credentials  STS GetCallerIdentity: signed in, and to which account.
 *  bootstrap    SSM GetParameter /cdk-bootstrap/<qualifier>/version (bootstrap.ts): present, and not
 *               older than the template's CheckBootstrapVersion rule accepts.
 *  model        Bedrock GetFoundationModel: offered in the Region, not past its end of life (Legacy is
 *               a warning), and callable on demand when the deployment names the bare model id.
 *  profile      Bedrock GetInferenceProfile, when the deployment names a profile: it exists from the
 *               Region, is ACTIVE, and every Region it routes to is in the IAM the stack generates
 *               (tasks/models.ts modelInvokeArns), or the model calls would be denied there.
 *  access       Bedrock GetFoundationModelAvailability: the account may invoke the model
 *               (authorization, agreement, entitlement, Region).
 *  agents       For the bedrock-agent runtime only, Agents for Amazon Bedrock ListAgents: Agents
 *               Classic is closed to new customers since 2026-07-30, and an account with an agent in
 *               the Region is an existing customer. The documentation names no API that says whether
 *               an account may still create agents, so an account with none is a problem unless the
 *               operator says it is an existing customer (`--agents-classic-customer`).
 *
 * One line per finding; a problem is a reason the deployment or its answers would fail, with what
 * to do. A check the caller's credentials may not run is a warning ("not checked"), except the
 * bootstrap's, which `cdk deploy` needs too.
 */
import { BedrockClient, GetFoundationModelAvailabilityCommand, GetFoundationModelCommand, GetInferenceProfileCommand } from '@aws-sdk/client-bedrock';
import { BedrockAgentClient, ListAgentsCommand } from '@aws-sdk/client-bedrock-agent';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AgentRuntimeKind } from '../../tasks/config.ts';
import { findModel, GEOGRAPHIES, MODELS, modelInvokeArns, profileForRegion, type ModelEntry } from '../../tasks/models.ts';
import { bootstrapVersionParameter, MIN_BOOTSTRAP_VERSION } from './bootstrap.ts';

export const CHECKS = ['credentials', 'bootstrap', 'model', 'profile', 'access', 'agents'] as const;
export type Check = (typeof CHECKS)[number];
export type Level = 'ok' | 'warning' | 'problem';

export interface Finding {
  readonly check: Check;
  readonly level: Level;
  readonly message: string;
}

export interface PreflightClients {
  readonly sts: STSClient;
  readonly ssm: SSMClient;
  readonly bedrock: BedrockClient;
  readonly agents: BedrockAgentClient;
}

export interface PreflightInput {
  readonly region: string;
  /** The model or inference profile id the deployment names (-c modelId, or the default's profile). */
  readonly modelId: string;
  readonly agentRuntime: AgentRuntimeKind;
  /** The CDK bootstrap qualifier (bootstrap.ts bootstrapQualifier). */
  readonly qualifier: string;
  readonly now: Date;
  /** The operator states the account is an existing Agents Classic customer. */
  readonly agentsClassicCustomer?: boolean;
}

export interface PreflightReport {
  readonly account?: string;
  readonly findings: readonly Finding[];
  /** True when no finding is a problem. */
  readonly passed: boolean;
}

/** "Amazon Bedrock Agents Classic maintenance mode": closed to new customers from this day. */
export const AGENTS_CLASSIC_CLOSED = '2026-07-30';
const AGENTS_CLASSIC_PAGE = 'https://docs.aws.amazon.com/bedrock/latest/userguide/agents-classic-maintenance-mode.html';
const MODEL_ACCESS_PAGE = 'https://docs.aws.amazon.com/bedrock/latest/userguide/model-access.html';
/** Pages of ListAgents read before concluding (an account with agents shows one on the first). */
const MAX_AGENT_PAGES = 5;

type AwsErr = { name?: string; message?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
const errName = (err: unknown) => (err as AwsErr).name ?? (err as AwsErr).Code ?? 'Error';
const errText = (err: unknown) => `${errName(err)}: ${(err as AwsErr).message || '(no message)'}`;
const isAccessDenied = (err: unknown) => /AccessDenied|UnauthorizedOperation|NotAuthorized/.test(errName(err));
const isNotFound = (err: unknown) => /NotFound/.test(errName(err));

/** Another model of the table to name in advice: the default's profile for the Region, if it has one. */
function suggestion(region: string, not?: ModelEntry): string {
  const candidates = MODELS.filter((m) => m !== not).flatMap((m) => {
    try {
      return [profileForRegion(m.modelId, region)];
    } catch {
      return [];
    }
  });
  return candidates.length > 0 ? `e.g. -c modelId=${candidates[0]}` : 'one of tasks/models.ts';
}

export async function preflight(clients: PreflightClients, input: PreflightInput): Promise<PreflightReport> {
  const findings: Finding[] = [];
  const add = (check: Check, level: Level, message: string) => findings.push({ check, level, message });
  const { region } = input;

  // credentials: nothing else can be read without them.
  let account: string;
  try {
    const id = await clients.sts.send(new GetCallerIdentityCommand({}));
    account = id.Account!;
    add('credentials', 'ok', `account ${account}, ${id.Arn}, Region ${region}`);
  } catch (err) {
    add(
      'credentials',
      'problem',
      `no usable AWS credentials (${errText(err)}): sign in (aws sso login, or aws configure) or set AWS_PROFILE to a profile of the account to deploy to, then run npm run preflight again.`,
    );
    return { findings, passed: false };
  }
  const env = `aws://${account}/${region}`;

  // bootstrap
  const parameter = bootstrapVersionParameter(input.qualifier);
  try {
    const out = await clients.ssm.send(new GetParameterCommand({ Name: parameter }));
    const version = Number(out.Parameter?.Value);
    if (!Number.isInteger(version) || version < MIN_BOOTSTRAP_VERSION) {
      add('bootstrap', 'problem', `the CDK bootstrap stack of ${env} is version ${out.Parameter?.Value}, older than the ${MIN_BOOTSTRAP_VERSION} this stack needs: run npx cdk bootstrap ${env}.`);
    } else {
      add('bootstrap', 'ok', `${env} is bootstrapped (version ${version}, qualifier ${input.qualifier})`);
    }
  } catch (err) {
    if (errName(err) === 'ParameterNotFound') {
      add('bootstrap', 'problem', `${env} is not bootstrapped for CDK (no SSM parameter ${parameter}): run npx cdk bootstrap ${env}.`);
    } else {
      add('bootstrap', 'problem', `cannot read SSM parameter ${parameter} (${errText(err)}): cdk deploy reads it too; use credentials allowed ssm:GetParameter on it.`);
    }
  }

  // model and profile
  const named = findModel(input.modelId);
  const viaProfile = named ? named.via === 'profile' : GEOGRAPHIES.some((g) => input.modelId.startsWith(`${g}.`));
  if (viaProfile && !named) {
    add('model', 'problem', `${input.modelId} is not in the models table (tasks/models.ts), so the stack cannot generate IAM for the Regions it routes to: add it from its model card, or choose ${suggestion(region)}.`);
  }
  const baseId = named?.model.modelId ?? (viaProfile ? undefined : input.modelId.replace(/^arn:[^/]+\//, ''));
  if (baseId !== undefined) {
    await checkModel(clients, input, baseId, named?.model, viaProfile, add);
    if (viaProfile) await checkProfile(clients, input, account, named!.id, add);
    await checkAccess(clients, baseId, named?.model.name ?? baseId, add);
  }

  // agents
  if (input.agentRuntime === 'bedrock-agent') await checkAgents(clients, input, add);

  return { account, findings, passed: !findings.some((f) => f.level === 'problem') };
}

type Add = (check: Check, level: Level, message: string) => void;

async function checkModel(clients: PreflightClients, input: PreflightInput, baseId: string, entry: ModelEntry | undefined, viaProfile: boolean, add: Add) {
  const { region } = input;
  try {
    const { modelDetails: details } = await clients.bedrock.send(new GetFoundationModelCommand({ modelIdentifier: baseId }));
    const name = details?.modelName ?? baseId;
    const lifecycle = details?.modelLifecycle;
    const endOfLife = lifecycle?.endOfLifeTime;
    if (endOfLife && endOfLife.getTime() <= input.now.getTime()) {
      add('model', 'problem', `${name} (${baseId}) reached end of life in ${region} on ${endOfLife.toISOString().slice(0, 10)}: every question would fail; choose another model, ${suggestion(region, entry)}.`);
      return;
    }
    if (lifecycle?.status === 'LEGACY') {
      const when = endOfLife ? `it reaches end of life on ${endOfLife.toISOString().slice(0, 10)}` : 'its end of life date is on its model card';
      add('model', 'warning', `${name} (${baseId}) is Legacy in ${region}: ${when}; plan a move to an Active model (${suggestion(region, entry)}).`);
    }
    if (!viaProfile && !(details?.inferenceTypesSupported ?? []).includes('ON_DEMAND')) {
      const profiles = entry ? Object.values(entry.profiles) : [];
      const advice = profiles.length > 0 ? `name an inference profile instead: -c modelId=${safeProfile(baseId, region) ?? profiles[0]}` : 'name one of its inference profiles with -c modelId';
      add('model', 'problem', `${name} cannot be invoked on demand by its model id ${baseId} in ${region}: ${advice}.`);
      return;
    }
    if (lifecycle?.status !== 'LEGACY') add('model', 'ok', `${name} (${baseId}) is ${lifecycle?.status ?? 'offered'} in ${region}${viaProfile ? '' : ', on demand'}`);
  } catch (err) {
    if (isNotFound(err)) {
      add('model', 'problem', `${baseId} is not offered in ${region} (GetFoundationModel: ${errName(err)}), or has reached end of life there: choose another model or Region, ${suggestion(region, entry)}.`);
    } else if (isAccessDenied(err)) {
      add('model', 'warning', `not checked: these credentials may not call bedrock:GetFoundationModel (${errText(err)}).`);
    } else throw err;
  }
}

function safeProfile(modelId: string, region: string): string | undefined {
  try {
    return profileForRegion(modelId, region);
  } catch {
    return undefined;
  }
}

async function checkProfile(clients: PreflightClients, input: PreflightInput, account: string, profileId: string, add: Add) {
  const { region } = input;
  try {
    const profile = await clients.bedrock.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: profileId }));
    if (profile.status !== 'ACTIVE') {
      add('profile', 'problem', `inference profile ${profileId} is ${profile.status} in ${region}, not ACTIVE: choose another model or profile with -c modelId.`);
      return;
    }
    const allowed = new Set(modelInvokeArns(input.modelId, { partition: 'aws', region, accountId: account }).map((a) => a.replace(/^arn:aws[\w-]*:/, 'arn:aws:')));
    const routed = (profile.models ?? []).map((m) => m.modelArn ?? '').filter(Boolean);
    const uncovered = routed.filter((arn) => {
      const normal = arn.replace(/^arn:aws[\w-]*:/, 'arn:aws:');
      const anyRegion = normal.replace(/^(arn:aws:bedrock:)[a-z0-9-]*(::)/, '$1$2');
      return !allowed.has(normal) && !allowed.has(anyRegion);
    });
    if (uncovered.length > 0) {
      const regions = uncovered.map((a) => a.split(':')[3]).join(', ');
      add('profile', 'problem', `inference profile ${profileId} routes to ${regions}, which the stack's IAM does not allow: calls routed there would be denied; add the Regions to the model's destinations in tasks/models.ts (its model card lists them).`);
    } else {
      add('profile', 'ok', `inference profile ${profileId} is ACTIVE in ${region} and routes to ${routed.length} Region(s), all allowed by the stack's IAM`);
    }
  } catch (err) {
    if (isNotFound(err)) {
      const base = findModel(profileId)?.model;
      const own = base ? safeProfile(base.modelId, region) : undefined;
      const advice = own && own !== profileId ? `use ${own}, the profile of ${region}'s geography` : `choose a model with a profile in ${region}, ${suggestion(region, base)}`;
      add('profile', 'problem', `inference profile ${profileId} does not exist in ${region} (GetInferenceProfile: ${errName(err)}): ${advice}.`);
    } else if (isAccessDenied(err)) {
      add('profile', 'warning', `not checked: these credentials may not call bedrock:GetInferenceProfile (${errText(err)}).`);
    } else throw err;
  }
}

async function checkAccess(clients: PreflightClients, baseId: string, name: string, add: Add) {
  try {
    const a = await clients.bedrock.send(new GetFoundationModelAvailabilityCommand({ modelId: baseId }));
    const reasons: string[] = [];
    if (a.authorizationStatus !== 'AUTHORIZED') reasons.push(`authorization ${a.authorizationStatus} (for an Anthropic model, submit the first-time use case form in the Bedrock console's model catalog)`);
    if (a.agreementAvailability?.status !== 'AVAILABLE') {
      const detail = a.agreementAvailability?.errorMessage ? `: ${a.agreementAvailability.errorMessage}` : '';
      reasons.push(`agreement ${a.agreementAvailability?.status ?? 'unknown'}${detail} (${a.agreementAvailability?.status === 'PENDING' ? 'wait a few minutes and run the preflight again' : "open the model in the console's model catalog and accept its offer"})`);
    }
    if (a.entitlementAvailability !== 'AVAILABLE') reasons.push(`entitlement ${a.entitlementAvailability} (the deploying identity needs aws-marketplace:Subscribe and the account a valid payment method)`);
    if (a.regionAvailability !== 'AVAILABLE') reasons.push(`Region availability ${a.regionAvailability} (choose a Region that offers it)`);
    if (reasons.length > 0) add('access', 'problem', `this account cannot invoke ${name} yet: ${reasons.join('; ')}. See ${MODEL_ACCESS_PAGE}.`);
    else add('access', 'ok', `this account may invoke ${name}`);
  } catch (err) {
    if (isAccessDenied(err)) add('access', 'warning', `not checked: these credentials may not call bedrock:GetFoundationModelAvailability (${errText(err)}).`);
    else if (isNotFound(err)) add('access', 'problem', `${baseId} has no availability record in this Region (${errName(err)}): choose another model or Region.`);
    else throw err;
  }
}

async function checkAgents(clients: PreflightClients, input: PreflightInput, add: Add) {
  if (input.now.toISOString().slice(0, 10) < AGENTS_CLASSIC_CLOSED) {
    add('agents', 'ok', `Agents Classic is open to new customers until ${AGENTS_CLASSIC_CLOSED}`);
    return;
  }
  let count = 0;
  try {
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_AGENT_PAGES && count === 0; page++) {
      const out = await clients.agents.send(new ListAgentsCommand({ maxResults: 100, ...(nextToken ? { nextToken } : {}) }));
      count += out.agentSummaries?.length ?? 0;
      nextToken = out.nextToken;
      if (!nextToken) break;
    }
  } catch (err) {
    if (isAccessDenied(err)) {
      add('agents', input.agentsClassicCustomer ? 'warning' : 'problem', `cannot tell whether this account may create Agents Classic agents: bedrock:ListAgents was refused (${errText(err)}); deploy with the default converse runtime, or allow it.`);
      return;
    }
    throw err;
  }
  if (count > 0) add('agents', 'ok', `this account has Agents Classic agents in ${input.region}: an existing customer may keep using the bedrock-agent runtime`);
  else if (input.agentsClassicCustomer) add('agents', 'warning', `this account has no Agents Classic agent in ${input.region}; going on because --agents-classic-customer says it is an existing customer (${AGENTS_CLASSIC_PAGE}).`);
  else {
    add(
      'agents',
      'problem',
      `Agents Classic (the bedrock-agent runtime) is closed to new customers since ${AGENTS_CLASSIC_CLOSED}, and this account has no agent in ${input.region} to show it is an existing one: deploy with the default converse runtime (leave out -c agentRuntime=bedrock-agent), or pass --agents-classic-customer if the account is an existing customer (${AGENTS_CLASSIC_PAGE}).`,
    );
  }
}

/** The report as lines for people: one per finding, then the verdict. */
export function formatReport(report: PreflightReport): string {
  const tag: Record<Level, string> = { ok: 'ok     ', warning: 'warning', problem: 'PROBLEM' };
  const lines = report.findings.map((f) => `${tag[f.level]}  ${f.check.padEnd(11)} ${f.message}`);
  const problems = report.findings.filter((f) => f.level === 'problem').length;
  lines.push(
    report.passed
      ? 'preflight passed: the account and Region are ready for this deployment.'
      : `preflight found ${problems} problem${problems === 1 ? '' : 's'}: fix ${problems === 1 ? 'it' : 'them'} and run npm run preflight again.`,
  );
  return `${lines.join('\n')}\n`;
}
