/**
 * `npm run deploy -- [-c key=value ...] [--skip-preflight] [--agents-classic-customer] [other cdk deploy options]`:
 * the preflight first (preflight.ts, with the same context and the same credentials and Region as
 * the deploy), then `cdk deploy --outputs-file cdk-outputs.json` with the remaining arguments. A
 * problem found by the preflight stops the deploy before CloudFormation is touched; `--skip-preflight`
 * deploys anyway (for an account the preflight cannot read, or a known false alarm). After a
 * deploy, `amplify_outputs.json` (tasks/amplify-outputs.ts) is written beside the outputs file, for
 * `Amplify.configure(outputs)`.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CommandIo } from '../../client/cli/command.ts';
import { CDK_OUTPUTS_FILE, DeployOutputsError, readDeployOutputs } from '../../client/cli/targets.ts';
import { writePrivateFile } from '../../client/cli/private-file.ts';
import { AMPLIFY_OUTPUTS_FILE, amplifyOutputsJson } from '../../tasks/amplify-outputs.ts';
import { PREFLIGHT_USAGE, preflightCommand } from './preflight-cli.ts';

export const DEPLOY_USAGE =
  'Usage: npm run deploy -- [-c key=value ...] [--skip-preflight] [--agents-classic-customer] [cdk deploy options]\n' +
  '  1. npm run preflight with the same -c context (see below); any PROBLEM stops here, before CloudFormation.\n' +
  `  2. npx cdk deploy --outputs-file ${CDK_OUTPUTS_FILE} <your arguments>.\n` +
  `  3. ${AMPLIFY_OUTPUTS_FILE} beside ${CDK_OUTPUTS_FILE}, for Amplify.configure (the app client's configuration).\n` +
  '  Context: -c modelId=<model or inference profile id> (default: Claude Haiku 4.5 through the Region\'s profile),\n' +
  '  -c agentRuntime=bedrock-agent (existing Agents Classic customers only; default converse), -c deployment=<label>,\n' +
  '  -c removalPolicy=destroy, -c seedUsersRefresh=<value>. --skip-preflight deploys without the checks.\n' +
  '  The cdk deploy options: npx cdk deploy --help.\n\n' +
  PREFLIGHT_USAGE;

/** The deploy's own flags, taken out of what goes to `cdk deploy`. */
const OWN_FLAGS = ['--skip-preflight', '--agents-classic-customer'];

/** Runs `cdk deploy`: the local CLI of aws-cdk, inheriting stdio; resolves to its exit code. */
export type CdkRunner = (args: string[]) => Promise<number>;

const runCdk: CdkRunner = (args) =>
  new Promise((resolve, reject) => {
    const child = spawn('npx', ['cdk', ...args], { stdio: 'inherit', shell: process.platform === 'win32' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });

export async function deployCommand(
  argv: string[],
  io: CommandIo & { cdk?: CdkRunner },
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(`${DEPLOY_USAGE}\n`);
    return 0;
  }
  const cdkArgs = argv.filter((a) => !OWN_FLAGS.includes(a));
  if (!argv.includes('--skip-preflight')) {
    io.stdout.write('Preflight (npm run preflight):\n');
    const context = cdkArgs.flatMap((a, i) => (a === '-c' || a === '--context' ? [a, cdkArgs[i + 1] ?? ''] : a.startsWith('-c') || a.startsWith('--context=') ? [a] : []));
    const code = await preflightCommand([...context, ...(argv.includes('--agents-classic-customer') ? ['--agents-classic-customer'] : [])], io);
    if (code !== 0) {
      io.stderr.write('Not deploying: the preflight found problems (above). Fix them, or deploy anyway with npm run deploy -- --skip-preflight.\n');
      return code;
    }
  }
  const outputsFile = outputsFileOf(cdkArgs);
  const code = await (io.cdk ?? runCdk)(['deploy', ...(outputsFile ? [] : ['--outputs-file', CDK_OUTPUTS_FILE]), ...cdkArgs]);
  if (code !== 0) return code;
  try {
    const written = await writeAmplifyOutputs(outputsFile ?? CDK_OUTPUTS_FILE);
    io.stdout.write(`Wrote ${written} (Amplify.configure(outputs) in an app).\n`);
  } catch (err) {
    if (!(err instanceof DeployOutputsError)) throw err;
    // The stack is deployed: only the app's configuration file is missing, and the message says how to get it.
    io.stderr.write(`Deployed, but ${AMPLIFY_OUTPUTS_FILE} was not written: ${err.message}\n`);
  }
  return 0;
}

/** The `--outputs-file` the arguments name (`--outputs-file F`, `--outputs-file=F`, `-O F`), if any. */
function outputsFileOf(args: string[]): string | undefined {
  for (const [i, a] of args.entries()) {
    if (a === '--outputs-file' || a === '-O') return args[i + 1];
    if (a.startsWith('--outputs-file=')) return a.slice('--outputs-file='.length);
  }
  return undefined;
}

/** Writes amplify_outputs.json beside `cdkOutputsFile` from the deployed stack's outputs; returns its path. */
export async function writeAmplifyOutputs(cdkOutputsFile: string): Promise<string> {
  const o = readDeployOutputs(['Region', 'GraphqlUrl', 'UserPoolId', 'UserPoolClientId'], cdkOutputsFile);
  const file = path.join(path.dirname(path.resolve(cdkOutputsFile)), AMPLIFY_OUTPUTS_FILE);
  await writePrivateFile(file, amplifyOutputsJson({ region: o.Region, userPoolId: o.UserPoolId, userPoolClientId: o.UserPoolClientId, graphqlUrl: o.GraphqlUrl }));
  return file;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await deployCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
