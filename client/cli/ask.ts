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
 * Exit codes: 0 answered, 1 the answer FAILED or the stack is unreachable, 2 bad usage or unknown user.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ApiError, AssistantApi } from '../api.ts';
import { signIn, SignInError, type Tokens } from '../auth.ts';
import { ASK_OUTPUTS, readDeployOutputsOrExit } from './targets.ts';
import { readLocalEnvOrExit, readLocalUsers, rememberLocalPassword } from './targets.ts';
import { parseStdinPasswords, promptHidden, readStdin } from './password-input.ts';

const USAGE =
  'Usage: npm run ask -- [--target local|aws] --user <username> [--json] [--conversation <id>] "<question>"\n' +
  '  --target aws: [--outputs-file cdk-outputs.json] [--password-stdin]';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    user: { type: 'string' },
    json: { type: 'boolean', default: false },
    conversation: { type: 'string' },
    'data-dir': { type: 'string', default: '.data' },
    target: { type: 'string', default: 'local' },
    'outputs-file': { type: 'string', default: 'cdk-outputs.json' },
    'password-stdin': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const question = positionals.join(' ').trim();
if (values.help || !values.user || !question || (values.target !== 'local' && values.target !== 'aws')) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 2);
}
const username = values.user;

/** Where the question goes and how its user signs in: the local stack, or a deployment. */
interface Target {
  graphqlUrl: string;
  realtimeUrl: string;
  signIn(): Promise<Tokens>;
  /** What to say when the endpoints do not answer. */
  unreachable: string;
}

async function localTarget(): Promise<Target> {
  const dataDir = values['data-dir'];
  const env = readLocalEnvOrExit(dataDir);
  const users = await readLocalUsers(dataDir).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
  const user = users.users.find((u) => u.username === username);
  if (!user) {
    process.stderr.write(`Unknown user '${username}'. Local users: ${users.users.map((u) => u.username).join(', ')}\n`);
    process.exit(2);
  }
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
async function awsTarget(): Promise<Target> {
  const outputs = readDeployOutputsOrExit(ASK_OUTPUTS, values['outputs-file']);
  const fromStdin = values['password-stdin'] ? parseStdinPasswords(await readStdin()) : undefined;
  const pool = { region: outputs.Region, clientId: outputs.UserPoolClientId };
  return {
    graphqlUrl: outputs.GraphqlUrl,
    realtimeUrl: outputs.RealtimeUrl,
    unreachable: `The deployment is not reachable (${outputs.GraphqlUrl}): check your network, or redeploy with npm run deploy.`,
    async signIn() {
      const password = fromStdin?.password ?? (await promptHidden(`Password for ${username}: `));
      progress(`signing in as ${username} (user pool ${outputs.UserPoolId})`);
      return signIn(pool, username, password, async () => {
        progress('first sign-in: the temporary password must be replaced');
        if (fromStdin) {
          if (!fromStdin.newPassword) throw new SignInError('First sign-in: give the new password as the second line of --password-stdin, or omit --password-stdin to be prompted.', 'NewPasswordRequired');
          return fromStdin.newPassword;
        }
        return promptHidden('New password: ');
      });
    },
  };
}

const target = values.target === 'aws' ? await awsTarget() : await localTarget();
const progress = (line: string) => process.stderr.write(`${line}\n`);

/** A password that satisfies the pool's policy: upper, lower, digit, symbol, 24+ characters. */
function newPassword(): string {
  return `Aa1!${randomBytes(18).toString('base64url')}`;
}

try {
  const tokens = await target.signIn();
  const api = new AssistantApi({ graphqlUrl: target.graphqlUrl, realtimeUrl: target.realtimeUrl, idToken: tokens.idToken });
  progress('subscribing to the answer, then asking');
  const result = await api.ask(question, {
    ...(values.conversation ? { conversationId: values.conversation } : {}),
    onEvent: (e) => {
      if (values.json) process.stdout.write(`${JSON.stringify(e)}\n`);
      // Progress in words ("checking your account", "looking up your orders"); the answer comes whole with DONE.
      else if (e.status === 'ACCEPTED' || e.status === 'PROGRESS') progress(`… ${e.text ?? e.step ?? e.status.toLowerCase()}`);
    },
  });
  progress(`execution ${result.executionId}`);
  if (result.final.status === 'FAILED') {
    if (!values.json) process.stderr.write(`FAILED: ${result.final.error ?? 'the assistant could not answer'}\n`);
    process.exitCode = 1;
  } else if (!values.json) {
    process.stdout.write(`${result.final.text ?? ''}\n`);
  }
} catch (err) {
  const e = err as Error & { code?: string; errorType?: string; cause?: { code?: string } };
  const refused = e.cause?.code === 'ECONNREFUSED' || /ECONNREFUSED|fetch failed/.test(e.message);
  if (refused) process.stderr.write(`${target.unreachable}\n`);
  else if (e instanceof SignInError) process.stderr.write(`Sign-in failed (${e.code}): ${e.message}\n`);
  else if (e instanceof ApiError) process.stderr.write(`The API refused the question (${e.errorType}): ${e.message}\n`);
  else process.stderr.write(`${e.name}: ${e.message}\n`);
  process.exitCode = 1;
}
