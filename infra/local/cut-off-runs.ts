/**
 * What the local stack does at start for the runs a stopped process cut off (issue 19). Neither is
 * an AWS behaviour: a crash of the twin is not an AWS event, and on AWS a lost run's slot expires
 * SLOT_TTL_SECONDS after admission (tasks/plans.ts). This is the twin's own crash recovery.
 *
 * - `deliveredEndingOf`: the recovery of the Step Functions stand-in (recovery.ts) asks whether a run
 *   left in its final publishing task had its terminal event accepted by the local AppSync; the
 *   AppSync delivery log (services/appsync/delivery-log.ts) knows it by answerId.
 * - `releaseCutOffSlots`: each run that recovery ended ABORTED still holds its admission slot (the
 *   INFLIGHT item's `slots` set, tasks/usage.ts), which would refuse its asker Throttled until the
 *   slot expires. The slot is released with the very UpdateItem PublishAnswer uses
 *   (tasks/release-slot.ts), signed at the edge as the publish-answer role, which may make it.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { releaseSlot } from '../../tasks/release-slot.ts';
import type { TableNames } from '../../tasks/tables.ts';
import { WorkflowInputSchema } from '../../tasks/workflow-input.ts';
import type { Logger } from './edge/log.ts';
import type { DeliveryLog } from './services/appsync/delivery-log.ts';
import type { DeliveredEnding } from './services/stepfunctions/recovery.ts';

function parseInput(input: string) {
  let value: unknown;
  try {
    value = JSON.parse(input);
  } catch {
    return undefined;
  }
  const parsed = WorkflowInputSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** DONE delivered: the run ended SUCCEEDED; FAILED delivered: FAILED; nothing recorded: undefined. */
export function deliveredEndingOf(log: Pick<DeliveryLog, 'delivered'>): DeliveredEnding {
  return (executionInput) => {
    const answerId = parseInput(executionInput)?.request.answerId;
    const status = answerId === undefined ? undefined : log.delivered(answerId);
    return status === 'DONE' ? 'SUCCEEDED' : status === 'FAILED' ? 'FAILED' : undefined;
  };
}

/** Releases the admission slot of each run ended ABORTED at start; returns how many were released. */
export async function releaseCutOffSlots(
  runs: readonly { executionArn: string; input: string }[],
  deps: { dynamodb: Pick<DynamoDBClient, 'send'>; tables: TableNames; logger: Logger },
): Promise<number> {
  let released = 0;
  for (const run of runs) {
    const input = parseInput(run.input);
    // Only the run's own slot (as PublishAnswer checks it); a replay holds none.
    if (!input?.slot || !input.slot.endsWith(`#${input.request.answerId}`)) continue;
    try {
      if (await releaseSlot({ tenantId: input.identity.tenantId, userId: input.identity.userId }, input.slot, deps)) released++;
    } catch (err) {
      // The slot then expires as on AWS; the start goes on.
      deps.logger.log('warn', 'stack.slot_release_failed', { executionArn: run.executionArn, error: (err as Error).name });
    }
  }
  if (runs.length > 0) deps.logger.log('info', 'stack.cut_off_slots_released', { runs: runs.length, released });
  return released;
}
