/** Signed-in, connected clients of the local stack's seeded users, as the benchmarks ask through them. */
import { randomUUID } from 'node:crypto';
import { AssistantApi } from '../client/api.ts';
import { signIn } from '../client/auth.ts';
import type { RealtimeConnection } from '../client/realtime.ts';
import type { LocalStack } from '../infra/local/stack.ts';

export interface BenchClient {
  api: AssistantApi;
  connection: RealtimeConnection;
}

/**
 * Signs `username` in with its temporary password (answering the new-password challenge), opens its
 * realtime connection, and records the connection in `connections` for the caller to close.
 */
export async function connectedClient(stack: LocalStack, username: string, connections: RealtimeConnection[], answerTimeoutMs = 30_000): Promise<BenchClient> {
  const pool = { region: stack.iam.location.region, clientId: stack.cognito.clientId, endpoint: stack.edgeUrl };
  const password = stack.cognito.temporaryPasswords()[username];
  if (!password) throw new Error(`No temporary password for ${username}`);
  const tokens = await signIn(pool, username, password, () => `Bench-${randomUUID()}-9!`);
  const api = new AssistantApi({ graphqlUrl: stack.graphqlUrl, realtimeUrl: stack.realtimeUrl, idToken: tokens.idToken, answerTimeoutMs });
  const connection = await api.connect();
  connections.push(connection);
  return { api, connection };
}

/**
 * Every seeded user signed in and connected (recorded in `connections`), and `askOnce`: one
 * `question` through the next user in turn, failing unless it ends DONE with text matching `answer`.
 */
export async function askingInTurn(
  stack: LocalStack,
  connections: RealtimeConnection[],
  question: string,
  answer: RegExp = /^/,
): Promise<{ clients: BenchClient[]; askOnce: () => Promise<void> }> {
  const clients: BenchClient[] = [];
  for (const u of stack.users) clients.push(await connectedClient(stack, u.username, connections));
  let next = 0;
  const askOnce = async () => {
    const c = clients[next++ % clients.length]!;
    const { final } = await c.api.ask(question, { connection: c.connection });
    if (final.status !== 'DONE' || !answer.test(final.text ?? '')) throw new Error(`A question did not answer: ${final.status} ${final.error ?? ''}`);
  };
  return { clients, askOnce };
}
