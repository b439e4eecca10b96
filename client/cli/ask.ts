/**
 * `npm run ask -- --user tenant1-user "What's your return policy?"`: signs in as a local user
 * (completing the first sign-in's new-password challenge itself), subscribes to the answer over the
 * realtime WebSocket, sends `ask`, prints progress on stderr and the answer on stdout.
 *   --json                 print the whole event stream (one JSON event per line) on stdout
 *   --conversation <id>    continue a conversation
 *   --target aws           ask the deployment of cdk-outputs.json (`npm run deploy` writes it) as a
 *                          Cognito user; the password from a prompt, or `--password-stdin` (the raw
 *                          password or the seeded user's secret JSON; a second line is the new
 *                          password a first sign-in requires)
 * Exit codes: 0 answered, 1 the answer FAILED or the stack is unreachable, 2 bad usage or unknown user,
 * 3 refused by the plan's limits (Throttled, QuotaExceeded: the message says which and when to retry),
 * 4 the answer was cut off (the realtime connection ended, or the stack stopped, before DONE or
 * FAILED arrived): the message names the answer and its execution, and how to follow it up.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { AnswerCutOffError, ApiError, AssistantApi, refusalOf } from '../api.ts';
import { signIn, SignInError, type Tokens } from '../auth.ts';
import { CommandExit, parseCommandArgs, type CommandIo } from './command.ts';
import { ASK_OUTPUTS, readDeployOutputsForCommand } from './targets.ts';
import { readLocalEnvForCommand, readLocalUsers, rememberLocalPassword } from './targets.ts';
import { parseStdinPasswords, promptHidden, readStdin } from './password-input.ts';

const USAGE =
  'Usage: npm run ask -- [--target local|aws] --user <username> [--json] [--conversation <id>] "<question>"\n' +
  '  --target aws: [--outputs-file cdk-outputs.json] [--password-stdin]';

export interface AskIo extends CommandIo {
  /** Where `--password-stdin` and the password prompt read: process.stdin unless given. */
  stdin?: NodeJS.ReadStream;
}

/** Where the question goes and how its user signs in: the local stack, or a deployment. */
interface Target {
  graphqlUrl: string;
  realtimeUrl: string;
  signIn(): Promise<Tokens>;
  /** What to say when the endpoints do not answer. */
  unreachable: string;
}

type Progress = (line: string) => void;

async function localTarget(dataDir: string, username: string, progress: Progress): Promise<Target> {
  const env = readLocalEnvForCommand(dataDir);
  const users = await readLocalUsers(dataDir).catch((err: Error) => {
    throw new CommandExit(err.message, 1);
  });
  const user = users.users.find((u) => u.username === username);
  if (!user) throw new CommandExit(`Unknown user '${username}'. Local users: ${users.users.map((u) => u.username).join(', ')}`, 2);
  const pool = { region: env.region, clientId: env.userPool.clientId, endpoint: env.endpoints.edge };
  return {
    graphqlUrl: env.endpoints.graphql,
    realtimeUrl: env.endpoints.realtime,
    unreachable: `The local stack is not reachable (${env.endpoints.edge}, ${env.endpoints.graphql}): start it with npm start.`,
    async signIn() {
      if (user.temporaryPassword) {
        const chosen = newPassword();
        progress(`signing in as ${user.username} (first sign-in: setting a new password, saved in ${dataDir}/local-users.json)`);
        const tokens = await signIn(pool, user.username, user.temporaryPassword, () => chosen);
        await rememberLocalPassword(dataDir, user.username, chosen);
        return tokens;
      }
      if (user.password) {
        progress(`signing in as ${user.username}`);
        return signIn(pool, user.username, user.password);
      }
      throw new SignInError(`No password for ${user.username} in ${dataDir}/local-users.json; restart the stack with a fresh .data/ to reset users.`, 'NoPassword');
    },
  };
}

/** The deployment of cdk-outputs.json and its Cognito user pool; the password is the person's. */
async function awsTarget(outputsFile: string, username: string, passwordStdin: boolean, io: AskIo, progress: Progress): Promise<Target> {
  const outputs = readDeployOutputsForCommand(ASK_OUTPUTS, outputsFile);
  const stdin = io.stdin ?? process.stdin;
  const fromStdin = passwordStdin ? parseStdinPasswords(await readStdin(stdin)) : undefined;
  const endpoint = io.aws?.endpoints?.cognito;
  const pool = { region: outputs.Region, clientId: outputs.UserPoolClientId, ...(endpoint ? { endpoint } : {}) };
  return {
    graphqlUrl: outputs.GraphqlUrl,
    realtimeUrl: outputs.RealtimeUrl,
    unreachable: `The deployment is not reachable (${outputs.GraphqlUrl}): check your network, or redeploy with npm run deploy.`,
    async signIn() {
      const password = fromStdin?.password ?? (await promptHidden(`Password for ${username}: `, stdin, io.stderr));
      progress(`signing in as ${username} (user pool ${outputs.UserPoolId})`);
      return signIn(pool, username, password, async () => {
        progress('first sign-in: the temporary password must be replaced');
        if (fromStdin) {
          if (!fromStdin.newPassword) throw new SignInError('First sign-in: give the new password as the second line of --password-stdin, or omit --password-stdin to be prompted.', 'NewPasswordRequired');
          return fromStdin.newPassword;
        }
        return promptHidden('New password: ', stdin, io.stderr);
      });
    },
  };
}

/** A password that satisfies the pool's policy: upper, lower, digit, symbol, 24+ characters. */
function newPassword(): string {
  return `Aa1!${randomBytes(18).toString('base64url')}`;
}

/** The exit code of an ask that admission refused. */
export const EXIT_REFUSED = 3;

/** The exit code of an answer that was cut off before its terminal event. */
export const EXIT_CUT_OFF = 4;

/**
 * What the asker of a cut-off answer reads: which answer, which execution, the last event that
 * arrived, and the commands that tell what became of it, replay it, or ask again.
 */
export function cutOffMessage(err: AnswerCutOffError, ask: { username: string; question: string; targetArgs: string }): string {
  const last = err.lastEvent;
  const lines = [
    `The answer was cut off: ${err.reason.message.replace(/\.$/, '')}, before its DONE or FAILED event arrived.`,
    `  answer:     ${err.answerId}`,
    `  execution:  ${err.executionId ?? 'not known (the question may not have started)'}`,
    `  last event: ${last ? `${last.status} (seq ${last.seq}${last.text && last.status !== 'CHUNK' ? `, ${last.text}` : ''})` : 'none'}`,
  ];
  if (err.executionId) {
    lines.push(
      `  what became of it:  npm run executions --${ask.targetArgs} show ${err.executionId}`,
      `  replay it (once it shows FAILED or ABORTED): npm run executions --${ask.targetArgs} replay ${err.executionId}`,
    );
  }
  lines.push(`  ask again:          npm run ask --${ask.targetArgs} --user ${ask.username} ${JSON.stringify(ask.question)}`);
  return `${lines.join('\n')}\n`;
}

/** The command itself, callable in-process (tests) or from the CLI below; resolves to the exit code. */
export async function askCommand(argv: string[], io: AskIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    user: { type: 'string' },
    json: { type: 'boolean', default: false },
    conversation: { type: 'string' },
    'password-stdin': { type: 'boolean', default: false },
  });
  const question = positionals.join(' ').trim();
  if (values.help || !values.user || !question || (values.target !== 'local' && values.target !== 'aws')) {
    io.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const username = values.user;
  const progress: Progress = (line) => io.stderr.write(`${line}\n`);

  let target: Target;
  try {
    target =
      values.target === 'aws'
        ? await awsTarget(values['outputs-file'], username, values['password-stdin'], io, progress)
        : await localTarget(values['data-dir'], username, progress);
  } catch (err) {
    if (!(err instanceof CommandExit)) throw err;
    io.stderr.write(`${err.message}\n`);
    return err.code;
  }

  try {
    const tokens = await target.signIn();
    const api = new AssistantApi({ graphqlUrl: target.graphqlUrl, realtimeUrl: target.realtimeUrl, idToken: tokens.idToken });
    progress('subscribing to the answer, then asking');
    const result = await api.ask(question, {
      ...(values.conversation ? { conversationId: values.conversation } : {}),
      onEvent: (e) => {
        if (values.json) io.stdout.write(`${JSON.stringify(e)}\n`);
        // Progress in words ("checking your account", "looking up your orders"); the answer comes whole with DONE.
        else if (e.status === 'ACCEPTED' || e.status === 'PROGRESS') progress(`… ${e.text ?? e.step ?? e.status.toLowerCase()}`);
      },
    });
    progress(`execution ${result.executionId}`);
    if (result.final.status === 'FAILED') {
      if (!values.json) io.stderr.write(`FAILED: ${result.final.error ?? 'the assistant could not answer'}\n`);
      return 1;
    }
    if (!values.json) io.stdout.write(`${result.final.text ?? ''}\n`);
    return 0;
  } catch (err) {
    if (err instanceof AnswerCutOffError) {
      const targetArgs = values.target === 'aws' ? ' --target aws' : '';
      io.stderr.write(cutOffMessage(err, { username, question, targetArgs }));
      if (values.json) io.stdout.write(`${JSON.stringify({ cutOff: err.reason.message, answerId: err.answerId, executionId: err.executionId })}\n`);
      return EXIT_CUT_OFF;
    }
    const refusal = refusalOf(err);
    if (refusal) {
      // Nothing was started: the limit and when to retry are in the message.
      io.stderr.write(`Refused (${refusal.errorType}): ${refusal.message}\n`);
      if (values.json) io.stdout.write(`${JSON.stringify({ refused: refusal.errorType, reason: refusal.reason, message: refusal.message, retryAfter: refusal.retryAfter?.toISOString() ?? null })}\n`);
      return EXIT_REFUSED;
    }
    const e = err as Error & { code?: string; errorType?: string; cause?: { code?: string } };
    const refused = e.cause?.code === 'ECONNREFUSED' || /ECONNREFUSED|fetch failed/.test(e.message);
    if (refused) io.stderr.write(`${target.unreachable}\n`);
    else if (e instanceof SignInError) io.stderr.write(`Sign-in failed (${e.code}): ${e.message}\n`);
    else if (e instanceof ApiError) io.stderr.write(`The API refused the question (${e.errorType}): ${e.message}\n`);
    else io.stderr.write(`${e.name}: ${e.message}\n`);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await askCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
}
