/**
 * What the CLI commands share. Each command is a function of its arguments and its surroundings
 * that returns its exit code; only its entry point (the main guard) touches the process, so the
 * tests run the commands in-process with streams of their own.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * For `--target aws` in tests: what replaces the SDK's defaults. On an operator's machine both are
 * unset, and the SDK takes credentials from its default chain and endpoints from its own settings.
 */
export interface AwsOverrides {
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  endpoints?: Partial<Record<'cognito' | 'sfn' | 'dynamodb' | 'logs' | 'sts' | 'ssm' | 'bedrock' | 'secretsmanager', string>>;
  /** In place of the Region the SDK's default chain gives (commands that do not read it from cdk-outputs.json). */
  region?: string;
}

/** The options of every command with a local and an AWS target (`parseArgs` options). */
const TARGET_OPTIONS = {
  'data-dir': { type: 'string', default: '.data' },
  target: { type: 'string', default: 'local' },
  'outputs-file': { type: 'string', default: 'cdk-outputs.json' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;

/** A command's arguments: its own options beside the target options, and positionals. */
export function parseCommandArgs<const O extends Options>(argv: string[], options: O) {
  return parseArgs({ args: argv, allowPositionals: true as const, options: { ...TARGET_OPTIONS, ...options } });
}

/** A command's surroundings: where it writes, and (tests) what replaces the SDK's defaults. */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  aws?: AwsOverrides;
  /** The time, for commands that judge dates (tests: a fixed day). @default real time */
  clock?: () => Date;
}

/** Ends a command before its work, as a script's process.exit did: `message` on stderr, then `code`. */
export class CommandExit extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'CommandExit';
  }
}

/** The SDK client configuration of `--target aws`: the deployment's region, and the overrides if any. */
export function awsClientConfig(region: string, service: keyof NonNullable<AwsOverrides['endpoints']>, aws: AwsOverrides = {}) {
  const endpoint = aws.endpoints?.[service];
  return { region, ...(endpoint ? { endpoint } : {}), ...(aws.credentials ? { credentials: aws.credentials } : {}) };
}
