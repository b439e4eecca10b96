/**
 * How the task Lambdas are bundled: one ESM file per task for Node.js 22. One source for the CDK
 * functions (infra/aws/workflow.ts) and for `npm run bench -- bundles`, which measures the result.
 */
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';

export const LAMBDA_NODE_TARGET = 'node22';

/** Some dependencies still `require` Node built-ins; ESM bundles need a `require`. */
export const ESM_REQUIRE_BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/**
 * esbuild options shared by both (in esbuild's own spelling). Everything is bundled, the AWS SDK
 * included: the functions run the SDK versions the tests ran, not the runtime's.
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
    externalModules: [],
  };
}
