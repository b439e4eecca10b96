/**
 * The bootstrap constants the preflight and the local stack use (bootstrap.ts) are CDK's: the
 * qualifier and its context key are aws-cdk-lib's, the oldest accepted version is what a
 * synthesized template of this stack refuses below, and the local account holds the version the
 * installed CLI's `cdk bootstrap` writes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, BOOTSTRAP_QUALIFIER_CONTEXT as CDK_QUALIFIER_CONTEXT, DefaultStackSynthesizer } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { BOOTSTRAP_QUALIFIER_CONTEXT, bootstrapVersionParameter, DEFAULT_BOOTSTRAP_QUALIFIER, installedBootstrapVersion, MIN_BOOTSTRAP_VERSION } from './bootstrap.ts';
import { MultiTenantAiAssistantStack } from './stack.ts';

describe('CDK bootstrap constants', () => {
  it('are aws-cdk-lib\'s qualifier, context key and version parameter', () => {
    expect(DEFAULT_BOOTSTRAP_QUALIFIER).toBe(DefaultStackSynthesizer.DEFAULT_QUALIFIER);
    expect(BOOTSTRAP_QUALIFIER_CONTEXT).toBe(CDK_QUALIFIER_CONTEXT);
    expect(bootstrapVersionParameter('abc')).toBe(DefaultStackSynthesizer.DEFAULT_BOOTSTRAP_STACK_VERSION_SSM_PARAMETER.replace('${Qualifier}', 'abc'));
  });

  it('name the oldest version the synthesized template accepts (its CheckBootstrapVersion rule), and a CLI that writes a newer one', () => {
    const outdir = mkdtempSync(path.join(os.tmpdir(), 'cdk-bootstrap-test-'));
    try {
      const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
      const template = Template.fromStack(new MultiTenantAiAssistantStack(app, 'BootstrapTest', { modelId: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' })).toJSON() as {
        Parameters: Record<string, { Default?: string }>;
        Rules: Record<string, { Assertions: { Assert: { 'Fn::Not': [{ 'Fn::Contains': [string[], unknown] }] } }[] }>;
      };
      expect(template.Parameters.BootstrapVersion!.Default).toBe(bootstrapVersionParameter());
      const refused = template.Rules.CheckBootstrapVersion!.Assertions[0]!.Assert['Fn::Not'][0]['Fn::Contains'][0];
      expect(refused).toEqual(Array.from({ length: MIN_BOOTSTRAP_VERSION - 1 }, (_, i) => String(i + 1)));
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
    expect(installedBootstrapVersion()).toBeGreaterThanOrEqual(MIN_BOOTSTRAP_VERSION);
  });
});
