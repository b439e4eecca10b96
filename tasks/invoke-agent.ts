/**
 * InvokeAgent: unseals the scoped credentials, asks the agent, runs each tool call the agent makes
 * with those credentials, and returns the answer text. The agent gets the question and tool results
 * only; its text is untrusted output (size-limited, control characters removed, and, as a last line
 * of defence, any credential value redacted, although none was ever given to it).
 */
import { DecryptCommand, KMSClient } from '@aws-sdk/client-kms';
import http from 'node:http';
import https from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { z } from 'zod';
import { agentRuntimeFor, type AgentRuntime } from './agent-runtime.ts';
import { sdkConfig, type ClientOptions, type TaskConfig } from './config.ts';
import { classifyAwsError, ErrorName, WorkflowError } from './errors.ts';
import { ScopedCredentialsSchema, sealContext } from './mint-credentials.ts';
import type { TableNames } from './tables.ts';
import { runTool, TOOLS_IMPL, type ToolRegistry } from './tools.ts';
import { describeIssues, parseWorkflowInput } from './validate-context.ts';
import { CONTROL_CHARACTERS, ContextSchema, SealedSchema, type Answer } from './workflow-input.ts';

export const MAX_ANSWER_CHARS = 4000;

export interface InvokeAgentDeps {
  /** Signed with the invoke-agent role: kms:Decrypt with the seal context only. */
  kms: KMSClient;
  agent: AgentRuntime;
  tables: TableNames;
  /** A DynamoDB client for the tools, signed with the unsealed scoped credentials. */
  scopedDynamo(credentials: z.infer<typeof ScopedCredentialsSchema>): DynamoDBClient;
  /** @default TOOLS_IMPL */
  tools?: ToolRegistry;
}

const StateSchema = z.object({ context: ContextSchema, sealed: SealedSchema });


/** Limits and cleans the model's text, and redacts any of the given secret values. */
export function sanitizeAnswer(text: string, secrets: readonly string[]): string {
  let out = text.replace(CONTROL_CHARACTERS, '');
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  const chars = [...out];
  return chars.length > MAX_ANSWER_CHARS ? `${chars.slice(0, MAX_ANSWER_CHARS - 1).join('')}…` : out;
}

export async function invokeAgent(input: unknown, deps: InvokeAgentDeps): Promise<Answer> {
  const { identity, request } = parseWorkflowInput(input);
  const state = StateSchema.safeParse(input);
  if (!state.success) throw new WorkflowError(ErrorName.InvalidRequest, `The workflow state is incomplete: ${describeIssues(state.error)}`);
  const { context, sealed } = state.data;

  let plaintext: Uint8Array;
  try {
    const out = await deps.kms.send(
      new DecryptCommand({
        CiphertextBlob: Buffer.from(sealed.sealedCredentials, 'base64'),
        EncryptionContext: sealContext(identity, request.answerId),
      }),
    );
    if (!out.Plaintext) throw new WorkflowError(ErrorName.CredentialsFailed, 'KMS returned no plaintext');
    plaintext = out.Plaintext;
  } catch (err) {
    throw classifyAwsError(err, ErrorName.CredentialsFailed, 'Unsealing the credentials');
  }
  const credentials = ScopedCredentialsSchema.parse(JSON.parse(Buffer.from(plaintext).toString('utf8')));
  const dynamodb = deps.scopedDynamo(credentials);
  const toolContext = { tenantId: identity.tenantId, userId: identity.userId, tables: deps.tables, dynamodb };
  const registry = deps.tools ?? TOOLS_IMPL;

  // The scoped client is dropped after the run, not destroyed: that would close the shared handler.
  const reply = await deps.agent.ask(
    { sessionId: context.sessionId, question: request.question.trim(), sessionAttributes: { tenantId: identity.tenantId, userId: identity.userId } },
    async (name, params) => {
      try {
        return JSON.stringify(await runTool(name, params, toolContext, registry));
      } catch (err) {
        // A denied or failing tool ends the run: the agent does not get to try around IAM.
        throw classifyAwsError(err, ErrorName.AgentFailed, `Tool ${name.slice(0, 64)}`);
      }
    },
  );
  const secrets = [credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken];
  return { text: sanitizeAnswer(reply.text, secrets), toolCalls: reply.toolCalls };
}

export function invokeAgentDeps(config: TaskConfig, clients: ClientOptions): InvokeAgentDeps {
  // One connection pool for every run's scoped client: a client per run is needed (its credentials
  // are the run's), a new connection and handler per run are not.
  const requestHandler = new NodeHttpHandler({ httpsAgent: new https.Agent({ keepAlive: true }), httpAgent: new http.Agent({ keepAlive: true }) });
  return {
    kms: new KMSClient(sdkConfig(clients)),
    agent: agentRuntimeFor(config, clients),
    tables: config.tables,
    scopedDynamo: (c) =>
      new DynamoDBClient({
        ...sdkConfig({ ...clients, credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken } }),
        requestHandler,
      }),
  };
}
