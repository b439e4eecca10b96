/**
 * Deploy after destroy: what `cdk destroy` retains (tables, the state machine's log group) is named
 * per deployment (stack name, and the `deployment` label), so a new deployment does not collide
 * with the retained resources of an old one; with removalPolicy DESTROY they are deleted with the
 * stack instead. Synthesized without bundling the functions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, RemovalPolicy } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { TableNames } from '../../tasks/tables.ts';
import { deploymentBase, MultiTenantAiAssistantStack, type MultiTenantAiAssistantStackProps } from './stack.ts';

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}
interface Synth {
  tableNames: string[];
  logGroupName: string;
  stateMachineName: string;
  retained: Array<{ type: string; deletionPolicy?: string }>;
}

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

const cache = new Map<string, Synth>();
function synth(stackName: string, props: MultiTenantAiAssistantStackProps = {}): Synth {
  const key = JSON.stringify([stackName, props]);
  const hit = cache.get(key);
  if (hit) return hit;
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'cdk-naming-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new MultiTenantAiAssistantStack(app, stackName, { env: { account: '111122223333', region: 'us-east-1' }, ...props });
  const resources = Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, Resource>);
  const tables = resources.filter((r) => r.Type === 'AWS::DynamoDB::Table');
  const smLogs = resources.filter((r) => r.Type === 'AWS::Logs::LogGroup' && typeof r.Properties.LogGroupName === 'string');
  expect(tables.length).toBeGreaterThanOrEqual(5);
  expect(smLogs).toHaveLength(1);
  const [machine] = resources.filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  const result: Synth = {
    tableNames: tables.map((t) => t.Properties.TableName as string).sort(),
    logGroupName: smLogs[0]!.Properties.LogGroupName as string,
    stateMachineName: machine!.Properties.StateMachineName as string,
    retained: [...tables, ...smLogs].map((r) => ({ type: r.Type, deletionPolicy: r.DeletionPolicy })),
  };
  cache.set(key, result);
  return result;
}

const overlap = (a: string[], b: string[]) => a.filter((n) => b.includes(n));

describe('names of what cdk destroy retains, per deployment', () => {
  it('control: the same stack name and label give the same names (updates keep their tables)', () => {
    expect(synth('NamingA')).toEqual(synth('NamingA'));
    const a = synth('NamingA');
    expect(a.tableNames).toContain(new TableNames('NamingA-').runs);
    expect(a.logGroupName).toBe('/aws/vendedlogs/states/NamingA-assistant');
    expect(a.stateMachineName).toBe('NamingA-assistant');
  });

  it('two stack names share no table or log group name', () => {
    const a = synth('NamingA');
    const b = synth('NamingB');
    expect(overlap(a.tableNames, b.tableNames)).toEqual([]);
    expect(a.logGroupName).not.toBe(b.logGroupName);
  });

  it('a deployment label gives the same stack new names, so it deploys beside what an earlier deployment retained', () => {
    const before = synth('NamingA');
    const again = synth('NamingA', { deployment: 'v2' });
    expect(overlap(before.tableNames, again.tableNames)).toEqual([]);
    expect(again.tableNames).toContain(new TableNames('NamingA-v2-').runs);
    expect(again.logGroupName).toBe('/aws/vendedlogs/states/NamingA-v2-assistant');
    expect(again.stateMachineName).toBe('NamingA-v2-assistant');
  });

  it('refuses a label that would not fit the names (control: a good one passes)', () => {
    expect(() => deploymentBase('S', 'V2')).toThrow(/lower-case/);
    expect(() => deploymentBase('S', '-x')).toThrow(/lower-case/);
    expect(() => deploymentBase('S', 'x'.repeat(17))).toThrow(/lower-case/);
    expect(deploymentBase('S', '2026-12-03')).toBe('S-2026-12-03');
    expect(deploymentBase('S')).toBe('S');
  });

  it('removalPolicy DESTROY deletes the tables and the log group with the stack; by default they are retained (control)', () => {
    const destroyed = synth('NamingA', { removalPolicy: RemovalPolicy.DESTROY });
    expect(destroyed.retained.map((r) => r.deletionPolicy)).toEqual(destroyed.retained.map(() => 'Delete'));
    const kept = synth('NamingA');
    expect(kept.retained.map((r) => r.deletionPolicy)).toEqual(kept.retained.map(() => 'Retain'));
  });
});
