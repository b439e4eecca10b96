import { describe, expect, it } from 'vitest';
import { PartitionLocks, partitionId } from './partition-locks.ts';

/** A write that runs until the test lets it end, recording when it started. */
function gate(log: string[], name: string) {
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const write = async () => {
    log.push(`${name} started`);
    started();
    await finished;
    log.push(`${name} ended`);
    return name;
  };
  return { write, finish, running };
}

describe('PartitionLocks', () => {
  it('runs a second write on the same partition only after the first has ended', async () => {
    const locks = new PartitionLocks();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const pa = locks.run(['t\n"u1"'], a.write);
    const pb = locks.run(['t\n"u1"'], b.write);
    await a.running;
    await Promise.resolve();
    expect(log).toEqual(['a started']);
    a.finish();
    await b.running;
    b.finish();
    expect(await Promise.all([pa, pb])).toEqual(['a', 'b']);
    expect(log).toEqual(['a started', 'a ended', 'b started', 'b ended']);
    expect(locks.held).toBe(0);
  });

  it('control: a write on another partition runs while the first is still running', async () => {
    const locks = new PartitionLocks();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const pa = locks.run(['t\n"u1"'], a.write);
    const pb = locks.run(['t\n"u2"'], b.write);
    await Promise.all([a.running, b.running]);
    expect(log).toEqual(['a started', 'b started']);
    a.finish();
    b.finish();
    await Promise.all([pa, pb]);
    expect(locks.held).toBe(0);
  });

  it('a write on several partitions waits for each; a failed write releases its partitions', async () => {
    const locks = new PartitionLocks();
    const log: string[] = [];
    const a = gate(log, 'a');
    const pa = locks.run(['t\n"u1"'], a.write);
    const failed = locks.run(['t\n"u3"'], async () => {
      throw new Error('ConditionalCheckFailed');
    });
    await expect(failed).rejects.toThrow('ConditionalCheckFailed');
    const both = gate(log, 'both');
    const pboth = locks.run(['t\n"u3"', 't\n"u1"'], both.write);
    await a.running;
    await Promise.resolve();
    expect(log).toEqual(['a started']);
    a.finish();
    await both.running;
    both.finish();
    await Promise.all([pa, pboth]);
    expect(log).toEqual(['a started', 'a ended', 'both started', 'both ended']);
    expect(locks.held).toBe(0);
  });

  it('names a partition by its table and key value; a table whose key is unknown gets one lock for all such writes', () => {
    expect(partitionId('usage', 'pk', { pk: { S: 'USER#t1#u1' }, sk: { S: 'INFLIGHT' } })).toBe('usage\n{"S":"USER#t1#u1"}');
    expect(partitionId('usage', 'pk', { pk: { S: 'USER#t1#u1' }, sk: { S: 'MINUTE#x' } })).toBe(partitionId('usage', 'pk', { pk: { S: 'USER#t1#u1' } }));
    expect(partitionId('usage', undefined, { pk: { S: 'a' } })).toBe('usage\n*');
  });
});
