/**
 * How the task Lambdas are bundled: one ESM file per task for Node.js 22. One source for the CDK
 * functions (infra/aws/workflow.ts) and for `npm run bench -- bundles`, which measures the result.
 */
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';

export const LAMBDA_NODE_TARGET = 'node22';

/** Some dependencies still `require` Node built-ins; ESM bundles need a `require`. */
export const ESM_REQUIRE_BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/**
 * The only modules left out of the bundles: the default credential chain's providers after the
 * environment one. The SDK reaches them only through a dynamic `import()` when no credentials are
 * in the environment, and Lambda always puts the function role's credentials there, so they are
 * never loaded (bundling.test.ts checks that no bundle imports them statically). Were one ever
 * loaded, the runtime's own SDK copy would serve it. About 130 KB less per bundle (and 13 KB less
 * for invoke-agent with the OIDC client below).
 */
export const LAMBDA_EXTERNAL_MODULES = [
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-web-identity',
  '@smithy/credential-provider-imds',
  // The SSO token provider's OIDC client, in the Bedrock clients' bearer-token chain (Bedrock API
  // keys), likewise reached only by `import()`: the functions sign with their role, never a token.
  '@aws-sdk/nested-clients/sso-oidc',
] as const;

/**
 * esbuild options shared by both (in esbuild's own spelling). Everything else is bundled, the AWS
 * SDK clients included: the functions run the SDK versions the tests ran, not the runtime's, and a
 * bundled client loads faster than the runtime's unbundled one (`npm run bench -- bundles`).
 */
export const LAMBDA_ESBUILD = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: LAMBDA_NODE_TARGET,
  minify: true,
  sourcemap: false,
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_BANNER },
  external: LAMBDA_EXTERNAL_MODULES,
} as const;

/** The same options, as `NodejsFunction` takes them. */
export function lambdaBundling(): nodejs.BundlingOptions {
  return {
    format: nodejs.OutputFormat.ESM,
    target: LAMBDA_ESBUILD.target,
    minify: LAMBDA_ESBUILD.minify,
    sourceMap: LAMBDA_ESBUILD.sourcemap,
    mainFields: [...LAMBDA_ESBUILD.mainFields],
    banner: LAMBDA_ESBUILD.banner.js,
    externalModules: [...LAMBDA_EXTERNAL_MODULES],
  };
}
