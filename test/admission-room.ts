/**
 * For suites that test something other than admission (isolation, idempotency, events, hostile
 * GraphQL) and ask more, or more at once, than a plan admits: the operator gives a user a fresh
 * minute and span window and no answers in progress, so that the next asks are admitted. Admission
 * itself is tested in test/admission.test.ts and test/admission-pipeline.test.ts, never with this.
 */
import { DeleteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LocalStack } from '../infra/local/stack.ts';
import { BURST_SPAN_MINUTES } from '../tasks/plans.ts';
import { INFLIGHT_SORT_KEY, minuteSortKey, userPartition } from '../tasks/usage.ts';

/** `SPAN#<start>` of the span holding `ms` (as resolvers/ask/admission.ts spanSortKey). */
function spanSortKey(ms: number): string {
  const span = BURST_SPAN_MINUTES * 60_000;
  return `SPAN#${new Date(Math.floor(ms / span) * span).toISOString().slice(0, 16)}`;
}

export async function makeRoom(stack: LocalStack, username: string): Promise<void> {
  const user = stack.user(username);
  const pk = userPartition(user.tenantId, user.sub);
  const now = Date.now();
  // This minute and the next (an ask may land in either), their spans, and the slots.
  const sortKeys = new Set([minuteSortKey(new Date(now).toISOString()), minuteSortKey(new Date(now + 60_000).toISOString()), spanSortKey(now), spanSortKey(now + 60_000), INFLIGHT_SORT_KEY]);
  const dynamo = new DynamoDBClient(stack.clientConfig('operator'));
  try {
    for (const sk of sortKeys) await dynamo.send(new DeleteItemCommand({ TableName: stack.tables.usage, Key: { pk: { S: pk }, sk: { S: sk } } }));
  } finally {
    dynamo.destroy();
  }
}
