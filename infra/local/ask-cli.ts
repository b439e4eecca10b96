/**
 * `npm run ask -- --user tenant1-user "What's your return policy?"`: signs in as a local user
 * (completing the first sign-in's new-password challenge itself), subscribes to the answer over the
 * realtime WebSocket, sends `ask`, prints progress on stderr and the answer on stdout.
 *   --json                 print the whole event stream (one JSON event per line) on stdout
 *   --conversation <id>    continue a conversation
 * Exit codes: 0 answered, 1 the answer FAILED or the stack is unreachable, 2 bad usage or unknown user.
 */
import './node-compat.ts';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ApiError, AssistantApi } from '../../client/api.ts';
import { signIn, SignInError } from '../../client/auth.ts';
import { readLocalUsers, rememberLocalPassword } from './cognito.ts';
import { readLocalEnvOrExit } from './local-env.ts';

const USAGE = 'Usage: npm run ask -- --user <username> [--json] [--conversation <id>] "<question>"';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    user: { type: 'string' },
    json: { type: 'boolean', default: false },
    conversation: { type: 'string' },
    'data-dir': { type: 'string', default: '.data' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const question = positionals.join(' ').trim();
if (values.help || !values.user || !question) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 2);
}
const dataDir = values['data-dir'];
const env = readLocalEnvOrExit(dataDir);
const users = await readLocalUsers(dataDir).catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
const user = users.users.find((u) => u.username === values.user);
if (!user) {
  process.stderr.write(`Unknown user '${values.user}'. Local users: ${users.users.map((u) => u.username).join(', ')}\n`);
  process.exit(2);
}
const progress = (line: string) => process.stderr.write(`${line}\n`);

/** A password that satisfies the pool's policy: upper, lower, digit, symbol, 24+ characters. */
function newPassword(): string {
  return `Aa1!${randomBytes(18).toString('base64url')}`;
}

try {
  const pool = { region: env.region, clientId: env.userPool.clientId, endpoint: env.endpoints.edge };
  let tokens;
  if (user.temporaryPassword) {
    const chosen = newPassword();
    progress(`signing in as ${user.username} (first sign-in: setting a new password, saved in ${dataDir}/local-users.json)`);
    tokens = await signIn(pool, user.username, user.temporaryPassword, () => chosen);
    await rememberLocalPassword(dataDir, user.username, chosen);
  } else if (user.password) {
    progress(`signing in as ${user.username}`);
    tokens = await signIn(pool, user.username, user.password);
  } else {
    throw new SignInError(`No password for ${user.username} in ${dataDir}/local-users.json; restart the stack with a fresh .data/ to reset users.`, 'NoPassword');
  }
  const api = new AssistantApi({ graphqlUrl: env.endpoints.graphql, realtimeUrl: env.endpoints.realtime, idToken: tokens.idToken });
  progress('subscribing to the answer, then asking');
  const result = await api.ask(question, {
    ...(values.conversation ? { conversationId: values.conversation } : {}),
    onEvent: (e) => {
      if (values.json) process.stdout.write(`${JSON.stringify(e)}\n`);
      else if (e.status !== 'DONE' && e.status !== 'FAILED') progress(`${e.status.toLowerCase()}: ${e.step ?? ''} ${e.text ?? ''}`.trim());
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
  if (refused) process.stderr.write(`The local stack is not reachable (${env.endpoints.edge}, ${env.endpoints.graphql}): start it with npm start.\n`);
  else if (e instanceof SignInError) process.stderr.write(`Sign-in failed (${e.code}): ${e.message}\n`);
  else if (e instanceof ApiError) process.stderr.write(`The API refused the question (${e.errorType}): ${e.message}\n`);
  else process.stderr.write(`${e.name}: ${e.message}\n`);
  process.exitCode = 1;
}
