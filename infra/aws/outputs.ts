/**
 * `cdk-outputs.json`, written by `npm run deploy` (`cdk deploy --outputs-file cdk-outputs.json`):
 * the deployment's endpoints and names, which the CLIs read in `--target aws` mode. The keys are
 * the CfnOutput ids of infra/aws/stack.ts (its tests check that each key the CLIs read is output).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const CDK_OUTPUTS_FILE = 'cdk-outputs.json';
export const STACK_NAME = 'MultiTenantAiAssistantStack';

/** What each CLI needs from the outputs, by output key. */
export const ASK_OUTPUTS = ['Region', 'GraphqlUrl', 'RealtimeUrl', 'UserPoolId', 'UserPoolClientId'] as const;
export const EXECUTIONS_OUTPUTS = ['Region', 'StateMachineArn', 'StateMachineLogGroupName', 'RunsTableName'] as const;

export class DeployOutputsError extends Error {
  constructor(message: string) {
    super(`${message} Deploy (or redeploy) with npm run deploy, which writes ${CDK_OUTPUTS_FILE}.`);
    this.name = 'DeployOutputsError';
  }
}

/**
 * The named outputs of `stackName` in `file`. Fails with what is missing and how to get it: no
 * file, not JSON, no such stack, or keys an older deployment did not output.
 */
export function readDeployOutputs<K extends string>(keys: readonly K[], file = CDK_OUTPUTS_FILE, stackName = STACK_NAME): Record<K, string> {
  const resolved = path.resolve(file);
  if (!existsSync(resolved)) throw new DeployOutputsError(`${resolved} not found.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(resolved, 'utf8'));
  } catch {
    throw new DeployOutputsError(`${resolved} is not valid JSON.`);
  }
  const stacks = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  const outputs = stacks[stackName];
  if (!outputs || typeof outputs !== 'object') {
    const found = Object.keys(stacks);
    throw new DeployOutputsError(`${resolved} has no outputs of stack ${stackName}${found.length ? ` (it has: ${found.join(', ')})` : ''}.`);
  }
  const values = outputs as Record<string, unknown>;
  const missing = keys.filter((k) => typeof values[k] !== 'string' || values[k] === '');
  if (missing.length > 0) throw new DeployOutputsError(`${resolved} lacks ${missing.join(', ')} for stack ${stackName}.`);
  return Object.fromEntries(keys.map((k) => [k, values[k] as string])) as Record<K, string>;
}

/** For the CLIs: the outputs, or the reason they cannot be read on stderr and exit code 1. */
export function readDeployOutputsOrExit<K extends string>(keys: readonly K[], file?: string): Record<K, string> {
  try {
    return readDeployOutputs(keys, file);
  } catch (err) {
    if (!(err instanceof DeployOutputsError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
