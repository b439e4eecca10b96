/**
 * The CDK bootstrap stack as a deployment needs it (https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html):
 * `cdk bootstrap` writes its version to the SSM parameter `/cdk-bootstrap/<qualifier>/version`, and
 * every synthesized template refuses, in its CheckBootstrapVersion rule, a version older than the
 * one it needs (cdk deploy: "SSM parameter /cdk-bootstrap/hnb659fds/version not found. Has the
 * environment been bootstrapped? Please run 'cdk bootstrap'"). `npm run preflight` reads the same
 * parameter before the deploy; infra/local writes it, so that the local account is bootstrapped.
 *
 * Kept free of aws-cdk-lib (the local stack reads it at start); bootstrap.test.ts checks both
 * constants against aws-cdk-lib and against a synthesized template.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** aws-cdk-lib's DefaultStackSynthesizer.DEFAULT_QUALIFIER. */
export const DEFAULT_BOOTSTRAP_QUALIFIER = 'hnb659fds';
/** The context key that names another qualifier (aws-cdk-lib's BOOTSTRAP_QUALIFIER_CONTEXT). */
export const BOOTSTRAP_QUALIFIER_CONTEXT = '@aws-cdk/core:bootstrapQualifier';
/** The oldest bootstrap version this stack's template accepts (its CheckBootstrapVersion rule). */
export const MIN_BOOTSTRAP_VERSION = 6;

/** The SSM parameter that holds the bootstrap stack's version. */
export function bootstrapVersionParameter(qualifier = DEFAULT_BOOTSTRAP_QUALIFIER): string {
  return `/cdk-bootstrap/${qualifier}/version`;
}

/**
 * The qualifier a deployment from this directory uses: the context of `cdk.json` (and of `-c`
 * arguments, which take precedence), else the default.
 */
export function bootstrapQualifier(context: Readonly<Record<string, string>>, cdkJsonFile = 'cdk.json'): string {
  if (context[BOOTSTRAP_QUALIFIER_CONTEXT]) return context[BOOTSTRAP_QUALIFIER_CONTEXT];
  if (existsSync(cdkJsonFile)) {
    const json = JSON.parse(readFileSync(cdkJsonFile, 'utf8')) as { context?: Record<string, unknown> };
    const q = json.context?.[BOOTSTRAP_QUALIFIER_CONTEXT];
    if (typeof q === 'string' && q) return q;
  }
  return DEFAULT_BOOTSTRAP_QUALIFIER;
}

/**
 * The version `cdk bootstrap` of the installed aws-cdk CLI writes (its bootstrap template's
 * CdkBootstrapVersion parameter value); undefined when the CLI or its template cannot be read.
 */
export function installedBootstrapVersion(): number | undefined {
  try {
    const cliDir = path.dirname(createRequire(import.meta.url).resolve('aws-cdk/package.json'));
    const template = readFileSync(path.join(cliDir, 'lib', 'api', 'bootstrap', 'bootstrap-template.yaml'), 'utf8');
    const m = /CdkBootstrapVersion:\s*\n\s*Type: AWS::SSM::Parameter[\s\S]*?\n\s*Value: '(\d+)'/.exec(template);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
