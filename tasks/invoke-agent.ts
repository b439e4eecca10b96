/**
 * InvokeAgent: unseals the scoped credentials, asks the agent, runs each tool call the agent makes
 * with those credentials, and returns the answer text. The agent gets the question and tool results
 * only; its text is untrusted output (size-limited, control characters removed, and, as a last line
 * of defence, any credential value redacted, although none was ever given to it).
 *
 * While it runs, the asker hears about each tool call (PROGRESS) and receives the answer as it
 * streams (CHUNK), sanitized as it goes: the chunks joined are exactly the returned text.
 */
import { DecryptCommand, KMSClient } from '@aws-sdk/client-kms';
import http from 'node:http';
import https from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import * as z from 'zod/mini';
import { toolDefinition } from './agent-definition.ts';
import { agentRuntimeFor, type AgentRuntime, type AgentRuntimeFactory } from './agent-runtime.ts';
import { AnswerEvents, answerEventsClient, type PublishPort } from './answer-events.ts';
import { dynamoConfig, sdkConfig, type ClientOptions, type TaskConfig } from './config.ts';
import { classifyAwsError, ErrorName, WorkflowError } from './errors.ts';
import type { TaskLog, TaskModule } from './handler.ts';
import { ConversationMemory } from './conversation-memory.ts';
import { meterAnswer, UsageTableMeter, type AnswerMeter } from './meter.ts';
import { ScopedCredentialsSchema, sealContext } from './mint-credentials.ts';
import type { TableNames } from './tables.ts';
import { runTool, TOOLS_IMPL, type ToolRegistry } from './tools.ts';
import { costUsd, findModel, type TokenCounts } from './models.ts';
import { CONTROL_CHARACTERS, ContextSchema, describeIssues, parseWorkflowInput, SealedSchema, type Answer, type TokenUsage } from './workflow-input.ts';
import './zod-locale.ts';

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
  /** Signed with the invoke-agent role (appsync:GraphQL on publishAnswer): PROGRESS and CHUNK. */
  events: PublishPort;
  /** The model the agent runs on (MODEL_ID), to name and price the answer's token usage. */
  modelId?: string;
  /** Signed with the invoke-agent role (UpdateItem on the usage table's tenant partitions): the answer's tokens. */
  meter: AnswerMeter;
  /** @default the clock: the UTC day and month an answer is metered in. */
  now?: () => Date;
  log: TaskLog;
}

const StateSchema = z.object({ context: ContextSchema, sealed: SealedSchema });


const REDACTED = '[redacted]';

/**
 * Cleans the model's text as it streams: removes control characters, redacts every occurrence of
 * a secret value, and limits the answer to MAX_ANSWER_CHARS characters (the last one an ellipsis
 * when it is longer). `push` returns the part that is safe to show now: text that could still turn
 * out to be the start of a secret is held back until the next piece (or `end`) decides it. The
 * pieces returned by every `push` and by `end`, joined, are the sanitized answer.
 */
export class AnswerSanitizer {
  private readonly secrets: readonly string[];
  /** The text so far, control characters removed; `raw[0, pos)` is decided. */
  private raw = '';
  private pos = 0;
  /** Characters decided so far, and those beyond the limit's last character, held until `end`. */
  private chars = 0;
  private overflow = '';
  private ended = false;

  constructor(secrets: readonly string[]) {
    this.secrets = secrets.filter((s) => s.length > 0);
  }

  push(piece: string): string {
    if (this.ended) throw new Error('AnswerSanitizer: push after end');
    this.raw += piece.replace(CONTROL_CHARACTERS, '');
    return this.decide(false);
  }

  end(): string {
    const out = this.decide(true);
    this.ended = true;
    return out + ([...this.overflow].length <= 1 ? this.overflow : '…');
  }

  private decide(final: boolean): string {
    let out = '';
    while (this.pos < this.raw.length) {
      const at = this.pos;
      const secret = this.secrets.find((s) => this.raw.startsWith(s, at));
      if (secret) {
        out += this.limit(REDACTED);
        this.pos += secret.length;
        continue;
      }
      const rest = this.raw.length - at;
      if (!final && this.secrets.some((s) => s.length > rest && s.startsWith(this.raw.slice(at)))) break;
      const ch = String.fromCodePoint(this.raw.codePointAt(at)!);
      out += this.limit(ch);
      this.pos += ch.length;
    }
    return out;
  }

  /** The part of `text` within the limit's first MAX_ANSWER_CHARS - 1 characters; the rest waits. */
  private limit(text: string): string {
    let shown = '';
    for (const ch of text) {
      if (this.chars < MAX_ANSWER_CHARS - 1) shown += ch;
      else if ([...this.overflow].length < 2) this.overflow += ch;
      this.chars++;
    }
    return shown;
  }
}

/**
 * The unsealed credentials, or CredentialsFailed that says nothing of the plaintext: a parse error's
 * message (JSON's or the schema's) would quote it, and errors reach the execution history.
 */
function readUnsealed(plaintext: Uint8Array): z.infer<typeof ScopedCredentialsSchema> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(plaintext).toString('utf8'));
  } catch {
    throw new WorkflowError(ErrorName.CredentialsFailed, 'The unsealed credentials are not JSON');
  }
  const parsed = ScopedCredentialsSchema.safeParse(json);
  if (!parsed.success) throw new WorkflowError(ErrorName.CredentialsFailed, 'The unsealed credentials are not scoped credentials');
  return parsed.data;
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
  const credentials = readUnsealed(plaintext);
  const dynamodb = deps.scopedDynamo(credentials);
  const toolContext = { tenantId: identity.tenantId, userId: identity.userId, tables: deps.tables, dynamodb };
  const registry = deps.tools ?? TOOLS_IMPL;
  // Events go to the asker of the validated state input, whatever the agent says.
  const events = new AnswerEvents(deps.events, { answerId: request.answerId, userId: identity.userId }, context.nextSeq, deps.log);
  const secrets = [credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken];
  const sanitizer = new AnswerSanitizer(secrets);
  // Converse is stateless: its conversation lives in our table, read and written with the scoped client.
  const memory =
    deps.agent.memory === 'conversation-table'
      ? new ConversationMemory(
          { tenantId: identity.tenantId, userId: identity.userId, conversationId: request.conversationId ?? request.answerId, answerId: request.answerId },
          { dynamodb, tables: deps.tables, log: deps.log, secrets },
        )
      : undefined;
  const history = memory ? await memory.recall() : undefined;
  let text = '';
  let writing = false;
  const write = (piece: string) => {
    if (!writing) events.progress('WriteAnswer');
    writing = true;
    const shown = sanitizer.push(piece);
    text += shown;
    events.chunk(shown);
  };

  let reply;
  try {
    // The scoped client is dropped after the run, not destroyed: that would close the shared handler.
    reply = await deps.agent.ask(
      {
        sessionId: context.sessionId,
        question: request.question.trim(),
        sessionAttributes: { tenantId: identity.tenantId, userId: identity.userId },
        ...(history ? { history } : {}),
      },
      async (name, params) => {
        // Only a tool of ours is named to the asker; any other name the model made up is not.
        const tool = toolDefinition(name);
        if (tool) events.progress(tool.name);
        try {
          return JSON.stringify(await runTool(name, params, toolContext, registry));
        } catch (err) {
          // A denied or failing tool ends the run: the agent does not get to try around IAM.
          throw classifyAwsError(err, ErrorName.AgentFailed, `Tool ${name.slice(0, 64)}`);
        }
      },
      write,
    );
  } catch (err) {
    // This task's events are out before PublishFailure's FAILED.
    await events.flush();
    throw err;
  }
  // The model's tokens are spent: meter them while the answer is finished (never throws).
  const metered = meterAnswer(
    deps.meter,
    { tenantId: identity.tenantId, answerId: request.answerId, modelId: deps.modelId ?? '', usage: reply.usage, at: deps.now?.() ?? new Date() },
    deps.log,
  );
  const rest = sanitizer.end();
  text += rest;
  events.chunk(rest);
  if (memory && reply.messages) {
    try {
      await memory.remember(reply.messages, text);
    } catch (err) {
      await Promise.all([events.flush(), metered]);
      throw err;
    }
  }
  const usage = reply.usage && answerUsage(reply.usage, deps.modelId ?? '');
  const [nextSeq] = await Promise.all([events.flush(), metered]);
  return { text, toolCalls: reply.toolCalls, nextSeq, ...(usage ? { usage } : {}) };
}

/** The answer's token usage, named by model and priced by the models table where it has a price. */
export function answerUsage(counts: TokenCounts, modelId: string): TokenUsage {
  const cost = costUsd(counts, findModel(modelId)?.model.price);
  return {
    modelId,
    inputTokens: counts.inputTokens,
    outputTokens: counts.outputTokens,
    totalTokens: counts.inputTokens + counts.outputTokens,
    ...(cost !== undefined ? { costUsd: cost } : {}),
  };
}

/**
 * The invoke-agent task with one agent runtime: each Lambda entry (tasks/lambda/invoke-agent-<runtime>.ts)
 * names its own, so that its bundle holds that runtime's Bedrock client only. The task itself is the
 * same for both.
 */
export function invokeAgentModule(runtime: AgentRuntimeFactory): TaskModule<InvokeAgentDeps> {
  return { run: invokeAgent, deps: (config, clients, log) => invokeAgentDeps(config, clients, log, runtime) };
}

export function invokeAgentDeps(config: TaskConfig, clients: ClientOptions, log: TaskLog, runtime: AgentRuntimeFactory): InvokeAgentDeps {
  // One connection pool for every run's scoped client: a client per run is needed (its credentials
  // are the run's), a new connection and handler per run are not.
  const requestHandler = new NodeHttpHandler({ httpsAgent: new https.Agent({ keepAlive: true }), httpAgent: new http.Agent({ keepAlive: true }) });
  return {
    kms: new KMSClient(sdkConfig(clients)),
    agent: agentRuntimeFor(runtime, config, clients),
    tables: config.tables,
    scopedDynamo: (c) =>
      new DynamoDBClient({
        ...dynamoConfig({ ...clients, credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken } }),
        requestHandler,
      }),
    events: answerEventsClient(config, clients, 'invoke-agent'),
    modelId: config.modelId,
    // The task role's own client, never the scoped one: a tenant must not write its own meter.
    meter: new UsageTableMeter(new DynamoDBClient(dynamoConfig(clients)), config.tables),
    log,
  };
}
