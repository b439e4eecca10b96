/**
 * The README's "Deploy to AWS" section, read as a new user would: every stack name, stack output,
 * secret id, context key and npm script it mentions exists in the synthesized template, the CDK
 * app's sources and package.json. (The README once named the secrets after the stack's class,
 * `MultiTenantAiAssistantStack/seed-users/...`, while the template names them after the stack.)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, RemovalPolicy } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MultiTenantAiAssistantStack } from './stack.ts';
import { DEFAULT_STACK_NAME } from './stack-name.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** What a reader of the Deploy section is told exists. */
interface DeployClaims {
  stackNames: string[];
  outputs: string[];
  secretIds: string[];
  contextKeys: string[];
  scripts: string[];
}

function deploySection(readme: string): string {
  const start = readme.indexOf('## Deploy to AWS');
  if (start < 0) throw new Error('README has no "## Deploy to AWS" section');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

const all = (text: string, re: RegExp) => [...new Set([...text.matchAll(re)].map((m) => m[1]!))];

function deployClaims(readme: string): DeployClaims {
  const text = deploySection(readme);
  return {
    stackNames: all(text, /deployed\s+as stack `([^`]+)`/g),
    outputs: all(text, /output `([A-Za-z0-9]+)`/g),
    secretIds: all(text, /--secret-id (\S+)/g),
    contextKeys: all(text, /-c ([A-Za-z]+)=/g),
    scripts: all(text, /npm run ([a-z][\w:-]*)/g),
  };
}

/** The claims that do not hold, as readable lines (empty when the README is right). */
function mismatches(claims: DeployClaims, facts: { stackName: string; outputs: string[]; secretNames: string[]; contextKeys: string[]; scripts: string[] }): string[] {
  const out: string[] = [];
  for (const s of claims.stackNames) if (s !== facts.stackName) out.push(`stack name ${s} (the app deploys ${facts.stackName})`);
  for (const o of claims.outputs) if (!facts.outputs.includes(o)) out.push(`output ${o}`);
  for (const id of claims.secretIds) if (!facts.secretNames.includes(id)) out.push(`secret ${id}`);
  for (const k of claims.contextKeys) if (!facts.contextKeys.includes(k)) out.push(`context key ${k}`);
  for (const s of claims.scripts) if (!facts.scripts.includes(s)) out.push(`npm script ${s}`);
  return out;
}

/** The context keys the CDK app reads (`tryGetContext('<key>')` in infra/aws). */
function contextKeysRead(): string[] {
  const dir = path.join(ROOT, 'infra/aws');
  const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  return all(sources.map((f) => readFileSync(path.join(dir, f), 'utf8')).join('\n'), /tryGetContext\('([A-Za-z]+)'\)/g);
}

let outdir: string;
let facts: Parameters<typeof mismatches>[1];

beforeAll(() => {
  outdir = mkdtempSync(path.join(os.tmpdir(), 'cdk-readme-'));
  const app = new App({ outdir });
  // A Region, as `npm run deploy` has one: the default model's inference profile depends on it.
  const stack = new MultiTenantAiAssistantStack(app, DEFAULT_STACK_NAME, { removalPolicy: RemovalPolicy.DESTROY, env: { region: 'us-east-1' } });
  const template = Template.fromStack(stack).toJSON() as { Outputs?: Record<string, unknown>; Resources: Record<string, { Type: string; Properties?: { Name?: unknown } }> };
  const secretNames = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::SecretsManager::Secret')
    .map((r) => r.Properties?.Name)
    .filter((n): n is string => typeof n === 'string');
  const scripts = Object.keys((JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
  facts = { stackName: stack.stackName, outputs: Object.keys(template.Outputs ?? {}), secretNames, contextKeys: contextKeysRead(), scripts };
}, 180_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

describe("the README's Deploy to AWS section matches the template", () => {
  it('finds the names it checks (control: the section names a stack, outputs, a secret, context keys and scripts)', () => {
    const claims = deployClaims(README);
    expect(claims.stackNames).toEqual([DEFAULT_STACK_NAME]);
    expect(claims.outputs.length).toBeGreaterThanOrEqual(3);
    expect(claims.secretIds).toHaveLength(1);
    expect(claims.contextKeys).toEqual(expect.arrayContaining(['agentRuntime', 'removalPolicy', 'stackName']));
    expect(claims.scripts).toEqual(expect.arrayContaining(['synth', 'deploy', 'destroy', 'ask', 'executions']));
    // Every secret the template makes is named as the README shows it (the seeded users' secrets).
    expect(facts.secretNames).toContain(`${DEFAULT_STACK_NAME}/seed-users/tenant1-user`);
  });

  it('every stack name, output, secret id, context key and npm script it mentions exists', () => {
    expect(mismatches(deployClaims(README), facts)).toEqual([]);
  });

  it('would catch a README that names what does not exist (control)', () => {
    const wrong = README.replace(`--secret-id ${DEFAULT_STACK_NAME}/seed-users/`, '--secret-id MultiTenantAiAssistantStack/seed-users/')
      .replace('output `RunsTableName`', 'output `RunTableName`')
      .replace('-c removalPolicy=destroy', '-c removalpolicy=destroy');
    expect(mismatches(deployClaims(wrong), facts)).toEqual([
      'output RunTableName',
      'secret MultiTenantAiAssistantStack/seed-users/tenant1-user',
      'context key removalpolicy',
    ]);
  });
});
