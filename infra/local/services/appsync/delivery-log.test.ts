/**
 * The local AppSync's delivery log (delivery-log.ts): a terminal event is on disk before anyone can
 * receive it, a restart reads it back, a line a crash cut short is dropped, and the file stays bounded.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IamGraphqlClient } from '../../../../tasks/graphql-client.ts';
import { PUBLISH_ANSWER } from '../../../../tasks/answer-events.ts';
import { LocalIam } from '../../iam/principals.ts';
import { DELIVERY_LOG_FILE, DeliveryLog } from './delivery-log.ts';
import type { AnswerEventRecord } from './graphql.ts';
import { startTestAppSync } from './test-server.ts';

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'appsync-deliveries-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const lines = async (dir: string) => (await readFile(path.join(dir, DELIVERY_LOG_FILE), 'utf8')).split('\n').filter(Boolean);

describe('DeliveryLog', () => {
  it('records terminal events durably; a new log on the directory (a restart) reads them back', async () => {
    const dir = await freshDir();
    const log = DeliveryLog.open(dir);
    await Promise.all([log.record('a1', 'DONE'), log.record('a2', 'FAILED'), log.record('a3', 'DONE')]);
    expect(await lines(dir)).toHaveLength(3);
    await log.close();
    const reopened = DeliveryLog.open(dir);
    expect(['a1', 'a2', 'a3', 'a4'].map((a) => reopened.delivered(a))).toEqual(['DONE', 'FAILED', 'DONE', undefined]);
    await reopened.close();
  });

  it('drops a line a crash cut short (its event was never fanned out), and appends after it cleanly', async () => {
    const dir = await freshDir();
    const log = DeliveryLog.open(dir);
    await log.record('whole', 'DONE');
    await log.close();
    await appendFile(path.join(dir, DELIVERY_LOG_FILE), '{"answerId":"torn","sta');
    const reopened = DeliveryLog.open(dir);
    expect([reopened.delivered('whole'), reopened.delivered('torn')]).toEqual(['DONE', undefined]);
    await reopened.record('after', 'FAILED');
    await reopened.close();
    expect(await lines(dir)).toEqual(['{"answerId":"whole","status":"DONE"}', '{"answerId":"after","status":"FAILED"}']);
  });

  it('stays bounded: past twice `keep` lines the file holds the newest `keep`; a leftover temporary file goes', async () => {
    const dir = await freshDir();
    await writeFile(path.join(dir, `${DELIVERY_LOG_FILE}.99999.00000000-0000-0000-0000-000000000000.tmp`), 'half a compaction');
    const log = DeliveryLog.open(dir, 3);
    expect(readdirSync(dir)).toEqual([]);
    for (let i = 0; i < 7; i++) await log.record(`a${i}`, 'DONE');
    // 7 lines > 2 * 3: compacted to the newest 3.
    expect(await lines(dir)).toEqual(['a4', 'a5', 'a6'].map((a) => `{"answerId":"${a}","status":"DONE"}`));
    expect([log.delivered('a3'), log.delivered('a6')]).toEqual([undefined, 'DONE']);
    await log.record('a7', 'DONE');
    await log.close();
    expect(await lines(dir)).toHaveLength(4);
    expect(DeliveryLog.open(dir, 3).delivered('a7')).toBe('DONE');
  });

  it('without a data directory records nothing', async () => {
    const log = DeliveryLog.open(undefined);
    await log.record('a1', 'DONE');
    expect(log.delivered('a1')).toBeUndefined();
  });
});

describe('the local AppSync with a delivery log', () => {
  it('a DONE event is on disk before it is published; a PROGRESS event is not recorded (control)', async () => {
    const dir = await freshDir();
    const iam = new LocalIam();
    const deliveryLog = DeliveryLog.open(dir);
    const { appsync, url } = await startTestAppSync(iam, { deliveryLog });
    // What the file held at the moment each event went to its listeners (subscribers get it in the same turn).
    const onDisk: { status: string; file: string }[] = [];
    appsync.events.on('publish', (e: AnswerEventRecord) => onDisk.push({ status: e.status, file: readFileSync(path.join(dir, DELIVERY_LOG_FILE), 'utf8') }));
    const publisher = new IamGraphqlClient({ url, region: 'us-east-1', credentials: iam.credentials('publish-answer') });
    try {
      await publisher.request(PUBLISH_ANSWER, { answerId: 'user-a.q1', userId: 'user-a', status: 'DONE', seq: 1000, text: 'the answer', error: null, step: 'PublishAnswer' });
      await publisher.request(PUBLISH_ANSWER, { answerId: 'user-a.q2', userId: 'user-a', status: 'PROGRESS', seq: 2, text: 'working', error: null, step: 'InvokeAgent' });
      expect(onDisk).toEqual([
        { status: 'DONE', file: '{"answerId":"user-a.q1","status":"DONE"}\n' },
        { status: 'PROGRESS', file: '{"answerId":"user-a.q1","status":"DONE"}\n' },
      ]);
      expect([deliveryLog.delivered('user-a.q1'), deliveryLog.delivered('user-a.q2')]).toEqual(['DONE', undefined]);
    } finally {
      await appsync.close();
      await deliveryLog.close();
    }
  });
});
