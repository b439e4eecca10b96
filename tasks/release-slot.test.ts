import { ConditionalCheckFailedException, type UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { recordingPublisher, stateAfterAnswer } from '../test/fake-aws.ts';
import { ErrorName } from './errors.ts';
import { publishAnswer } from './publish-answer.ts';
import { releaseSlot } from './release-slot.ts';
import { TableNames } from './tables.ts';

const tables = new TableNames('t-');
const owner = { tenantId: 'tenant1', userId: 'user-1' };

/** A DynamoDB port that records each UpdateItem and answers with `outcome` (an error to throw, or nothing). */
function recordingDynamo(outcome: () => unknown = () => ({})) {
  const sent: UpdateItemCommand['input'][] = [];
  const order: string[] = [];
  return {
    sent,
    order,
    port: {
      send: async (command: UpdateItemCommand) => {
        sent.push(command.input);
        order.push('release');
        const result = outcome();
        if (result instanceof Error) throw result;
        return result;
      },
    } as never,
  };
}

describe('releaseSlot', () => {
  it("deletes the slot element from the asker's INFLIGHT set, on a condition that the item exists", async () => {
    const dynamo = recordingDynamo();
    expect(await releaseSlot(owner, '1900000000#user-1.a1', { dynamodb: dynamo.port, tables })).toBe(true);
    expect(dynamo.sent).toEqual([
      {
        TableName: 't-usage',
        Key: { pk: { S: 'USER#tenant1#user-1' }, sk: { S: 'INFLIGHT' } },
        UpdateExpression: 'DELETE #slots :slot',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: { '#slots': 'slots', '#pk': 'pk' },
        ExpressionAttributeValues: { ':slot': { SS: ['1900000000#user-1.a1'] } },
      },
    ]);
  });

  it('releases nothing without a slot, and treats a missing INFLIGHT item as already released', async () => {
    const none = recordingDynamo();
    expect(await releaseSlot(owner, undefined, { dynamodb: none.port, tables })).toBe(false);
    expect(none.sent).toEqual([]);
    const gone = recordingDynamo(() => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
    expect(await releaseSlot(owner, '1900000000#user-1.a1', { dynamodb: gone.port, tables })).toBe(false);
    expect(gone.sent).toHaveLength(1);
  });

  it('names other failures (throttling is transient)', async () => {
    const throttled = recordingDynamo(() => Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }));
    await expect(releaseSlot(owner, '1900000000#user-1.a1', { dynamodb: throttled.port, tables })).rejects.toMatchObject({ name: ErrorName.Throttled });
  });
});

describe('publishAnswer releases the slot when the answer ends', () => {
  const identity = { ...owner, username: 'alice' };
  const request = { answerId: 'user-1.a1', question: 'Hi?' };
  const slot = '1900000000#user-1.a1';

  it('DONE and FAILED: releases first, then publishes the terminal event', async () => {
    for (const state of [{ ...stateAfterAnswer(identity, request), slot }, { identity, request, slot, error: { Error: ErrorName.AgentFailed, Cause: 'x' } }]) {
      const dynamo = recordingDynamo();
      const { port, published } = recordingPublisher();
      const graphql = { request: ((query: string, variables: Record<string, unknown>) => (dynamo.order.push("publish"), port.request(query, variables))) as typeof port.request };
      await publishAnswer(state, { graphql, release: { dynamodb: dynamo.port, tables } });
      expect(dynamo.order).toEqual(['release', 'publish']);
      expect(dynamo.sent[0]!.ExpressionAttributeValues).toEqual({ ':slot': { SS: [slot] } });
      expect(published).toHaveLength(1);
    }
  });

  it("releases nothing without a slot, nor a slot that names another answer (control: its own is released)", async () => {
    const dynamo = recordingDynamo();
    const { port } = recordingPublisher();
    await publishAnswer(stateAfterAnswer(identity, request), { graphql: port, release: { dynamodb: dynamo.port, tables } });
    await publishAnswer({ ...stateAfterAnswer(identity, request), slot: '1900000000#user-1.other' }, { graphql: port, release: { dynamodb: dynamo.port, tables } });
    expect(dynamo.sent).toEqual([]);
    await publishAnswer({ ...stateAfterAnswer(identity, request), slot }, { graphql: port, release: { dynamodb: dynamo.port, tables } });
    expect(dynamo.sent).toHaveLength(1);
  });

  it('a failed release is logged and the asker still gets the terminal event (the slot expires)', async () => {
    const dynamo = recordingDynamo(() => Object.assign(new Error('down'), { name: 'InternalServerError' }));
    const { port, published } = recordingPublisher();
    const logged: Record<string, unknown>[] = [];
    await publishAnswer({ ...stateAfterAnswer(identity, request), slot }, { graphql: port, release: { dynamodb: dynamo.port, tables }, log: (line) => logged.push(line) });
    expect(published).toHaveLength(1);
    expect(logged).toEqual([{ level: 'warn', msg: 'slot.release.failed', error: ErrorName.ServiceUnavailable }]);
  });
});
