/**
 * Token metering: after an answer, InvokeAgent records the model tokens it used on the tenant's
 * DAY and MONTH items of the usage table (tasks/usage.ts), with atomic ADDs, signed with the
 * invoke-agent role (never the tenant-scoped session: a tenant must not be able to write its own
 * meter). Admission reads the MONTH item's `tokens` against the plan's budget.
 *
 * Once per answer: InvokeAgent is retried (its state's Retry) and a Lambda invocation may be
 * delivered twice, so the meter first claims the answer with a conditional write of a marker item
 * (`TENANT#<tenantId>` / `ANSWER#<answerId>`, short TTL); a second meter of the same answer finds
 * the marker and adds nothing. The marker and the two counters are written in one
 * TransactWriteItems, all or nothing: no crash can leave a marker without its counters (a lost
 * meter) or counters without their marker (a meter counted twice), and it is one request, not three.
 * The marker also records what the answer used, so an operator can see it.
 *
 * Metering never fails an answer: InvokeAgent logs a failed meter and answers (meterAnswer).
 */
import { TransactionCanceledException, TransactWriteItemsCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TaskLog } from './handler.ts';
import type { TokenCounts } from './models.ts';
import { CLAIM_TTL_SECONDS, type TableNames } from './tables.ts';
import { answerMeterSortKey, daySortKey, monthSortKey, tenantPartition, TENANT_WINDOW_TTL_SECONDS, USAGE_EXPIRY_ATTRIBUTE } from './usage.ts';

/** One answer's usage, as InvokeAgent meters it. */
export interface MeteredAnswer {
  tenantId: string;
  answerId: string;
  /** The model (or inference profile) the answer ran on; names the per-model counters. */
  modelId: string;
  /** Undefined when the runtime reported no usage: the answer is counted, with no tokens. */
  usage: TokenCounts | undefined;
  /** When the answer was given: its UTC day and month are the windows it counts in. */
  at: Date;
}

/** The meter port: records one answer's usage, once per answerId. */
export interface AnswerMeter {
  /** `metered`: counted now; `duplicate`: this answerId was counted before, nothing added. */
  record(answer: MeteredAnswer): Promise<'metered' | 'duplicate'>;
}

/** A model id as it appears in a counter's name: `unknown` when the deployment names none. */
const modelName = (modelId: string): string => (modelId === '' ? 'unknown' : modelId);

const S = (v: string): AttributeValue => ({ S: v });
const N = (v: number): AttributeValue => ({ N: String(v) });

/** The meter on the usage table, with a client signed by the invoke-agent role. */
export class UsageTableMeter implements AnswerMeter {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tables: TableNames,
  ) {}

  async record(answer: MeteredAnswer): Promise<'metered' | 'duplicate'> {
    const input = answer.usage?.inputTokens ?? 0;
    const output = answer.usage?.outputTokens ?? 0;
    const model = modelName(answer.modelId);
    const iso = answer.at.toISOString();
    const epoch = Math.floor(answer.at.getTime() / 1000);
    const pk = tenantPartition(answer.tenantId);
    const marker = {
      TableName: this.tables.usage,
      Key: { pk: S(pk), sk: S(answerMeterSortKey(answer.answerId)) },
      UpdateExpression: 'SET #exp = :exp, #model = :model, #in = :in, #out = :out, #at = :at',
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': 'pk', '#exp': USAGE_EXPIRY_ATTRIBUTE, '#model': 'modelId', '#in': 'inputTokens', '#out': 'outputTokens', '#at': 'meteredAt' },
      ExpressionAttributeValues: { ':exp': N(epoch + CLAIM_TTL_SECONDS), ':model': S(model), ':in': N(input), ':out': N(output), ':at': S(iso) },
    };
    const counters = [monthSortKey(iso), daySortKey(iso)].map((sk) => ({
      TableName: this.tables.usage,
      Key: { pk: S(pk), sk: S(sk) },
      UpdateExpression: 'ADD #in :in, #out :out, #sum :sum, #inModel :in, #outModel :out, #answered :one SET #exp = if_not_exists(#exp, :exp)',
      ExpressionAttributeNames: {
        '#in': 'inputTokens',
        '#out': 'outputTokens',
        '#sum': 'tokens',
        '#inModel': `inputTokens#${model}`,
        '#outModel': `outputTokens#${model}`,
        '#answered': 'answered',
        '#exp': USAGE_EXPIRY_ATTRIBUTE,
      },
      ExpressionAttributeValues: { ':in': N(input), ':out': N(output), ':sum': N(input + output), ':one': N(1), ':exp': N(epoch + TENANT_WINDOW_TTL_SECONDS) },
    }));
    try {
      await this.dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [marker, ...counters].map((Update) => ({ Update })) }));
    } catch (err) {
      // The marker's condition alone can fail: this answer was metered before.
      if (err instanceof TransactionCanceledException && err.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') return 'duplicate';
      throw err;
    }
    return 'metered';
  }
}

/**
 * Meters an answer and never throws: a failed meter is logged (the error's name and the answer's
 * ids, never a credential or the question) and the answer goes on. What a lost meter costs is
 * bounded by one answer's tokens per failure, and every failure leaves a `meter.failed` line.
 */
export async function meterAnswer(meter: AnswerMeter, answer: MeteredAnswer, log: TaskLog): Promise<void> {
  const tokens = (answer.usage?.inputTokens ?? 0) + (answer.usage?.outputTokens ?? 0);
  try {
    const outcome = await meter.record(answer);
    log({ level: 'info', msg: outcome === 'metered' ? 'meter.recorded' : 'meter.duplicate', tenantId: answer.tenantId, answerId: answer.answerId, tokens });
  } catch (err) {
    const e = err as Error;
    log({ level: 'error', msg: 'meter.failed', tenantId: answer.tenantId, answerId: answer.answerId, tokens, error: e.name });
  }
}
