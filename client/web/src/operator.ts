/**
 * The executions view's data, as the local operator: the browser signs Step Functions and DynamoDB
 * calls to the local edge with SigV4 (the AWS SDK's own signer), using the keys the operator pasted.
 * The keys stay in this page's memory; the edge checks the signature and the operator's IAM policy,
 * so a tenant user's token or a tenant's scoped credentials open nothing here.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, DescribeStateMachineCommand, SFNClient, type ExecutionStatus } from '@aws-sdk/client-sfn';
import { mapLimited } from '../../concurrency.ts';
import { listExecutions, showExecution, type ExecutionDetail, type ExecutionRow } from '../../executions.ts';
import { replayExecution, type ReplayResult } from '../../replay.ts';
import type { OperatorConfig } from './config.ts';
import { parseDefinition, type AslDefinition } from './graph.ts';

export interface OperatorCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Who asked, and which run a replay replays. */
export interface Asker {
  tenantId?: string;
  username?: string;
  userId?: string;
  replayOf?: string;
}

export type ExecutionSummary = ExecutionRow & Asker;

interface ExecutionInput {
  identity?: { tenantId?: unknown; userId?: unknown; username?: unknown };
  replayOf?: unknown;
}

/** Who asked, from an execution's input (built by the resolver from the verified token). */
export function askerOf(input: string | undefined): Asker {
  if (!input) return {};
  let parsed: ExecutionInput;
  try {
    parsed = JSON.parse(input) as ExecutionInput;
  } catch {
    return {};
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const out: Asker = {};
  const tenantId = str(parsed.identity?.tenantId);
  const username = str(parsed.identity?.username);
  const userId = str(parsed.identity?.userId);
  const replayOf = str(parsed.replayOf);
  if (tenantId) out.tenantId = tenantId;
  if (username) out.username = username;
  if (userId) out.userId = userId;
  if (replayOf) out.replayOf = replayOf;
  return out;
}

export class OperatorApi {
  private readonly sfn: SFNClient;
  private readonly dynamodb: DynamoDBClient;
  private definition?: Promise<AslDefinition>;

  constructor(
    private readonly config: OperatorConfig,
    credentials: OperatorCredentials,
  ) {
    const clientConfig = {
      endpoint: config.endpoint,
      region: config.region,
      credentials: { ...credentials },
      maxAttempts: 1,
    };
    this.sfn = new SFNClient(clientConfig);
    this.dynamodb = new DynamoDBClient(clientConfig);
  }

  /** The executions, newest first, with who asked (one DescribeExecution each). */
  async list(status?: ExecutionStatus, limit = 50): Promise<ExecutionSummary[]> {
    const rows = await listExecutions(this.sfn, this.config.stateMachineArn, status, limit);
    rows.sort((a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0));
    return mapLimited(rows, 6, async (row) => {
      const d = await this.sfn.send(new DescribeExecutionCommand({ executionArn: row.executionArn }));
      return { ...row, ...askerOf(d.input) };
    });
  }

  show(executionArn: string): Promise<ExecutionDetail> {
    return showExecution(this.sfn, executionArn);
  }

  /** The state machine's definition, as Step Functions has it (fetched once). */
  stateMachine(): Promise<AslDefinition> {
    this.definition ??= this.sfn
      .send(new DescribeStateMachineCommand({ stateMachineArn: this.config.stateMachineArn }))
      .then((d) => parseDefinition(d.definition ?? ''));
    this.definition.catch(() => (this.definition = undefined));
    return this.definition;
  }

  replay(executionArn: string): Promise<ReplayResult> {
    return replayExecution(
      { sfn: this.sfn, dynamodb: this.dynamodb },
      { stateMachineArn: this.config.stateMachineArn, runsTable: this.config.runsTable, executionArn },
    );
  }

  destroy(): void {
    this.sfn.destroy();
    this.dynamodb.destroy();
  }
}
