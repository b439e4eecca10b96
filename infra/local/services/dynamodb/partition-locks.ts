/**
 * Write locks per partition (table and partition key value), for the local DynamoDB: a
 * TransactWriteItems is applied item by item, so no other write may land on its items in between;
 * writes to other partitions go on meanwhile, as they do on DynamoDB, where one tenant's flood of
 * transactions on its own counters never queues another tenant's writes. A write that names
 * several partitions (a transaction, BatchWriteItem) waits for each of them; the locks are
 * registered at once and in arrival order, so two writers can never wait for each other.
 */
export class PartitionLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `write` once every earlier write on any of `partitions` has finished. */
  async run<T>(partitions: readonly string[], write: () => Promise<T>): Promise<T> {
    const ids = [...new Set(partitions)];
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const before = ids.map((id) => this.tails.get(id) ?? Promise.resolve());
    for (const id of ids) this.tails.set(id, done);
    try {
      await Promise.all(before);
      return await write();
    } finally {
      release();
      for (const id of ids) if (this.tails.get(id) === done) this.tails.delete(id);
    }
  }

  /** Partitions with a write running or waiting (for tests: none once the writes have ended). */
  get held(): number {
    return this.tails.size;
  }
}

/** The lock id of a partition: the table and the partition key's value (DynamoDB JSON). */
export function partitionId(table: string, pk: string | undefined, item: Record<string, unknown> | undefined): string {
  // A table whose key is unknown (missing: the operation will say so) is locked whole.
  return pk && item ? `${table}\n${JSON.stringify(item[pk] ?? null)}` : `${table}\n*`;
}
