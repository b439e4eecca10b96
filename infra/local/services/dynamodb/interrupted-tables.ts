/**
 * Tables a killed process left in CREATING. dynalite answers CreateTable with the table in CREATING
 * and makes it ACTIVE a moment later (its createTableMs, 0 here, still a later tick): a process
 * killed in between leaves the table in CREATING for good, and every item operation on it fails
 * with ResourceNotFoundException. On AWS a table in CREATING becomes ACTIVE once DynamoDB has
 * created it, whatever happens to the caller, so before dynalite opens a persisted store this
 * finishes what it had started: each table found in CREATING is made ACTIVE, as dynalite itself
 * would have.
 */
import dynaliteDb from 'dynalite/db/index.js';

/** The sublevel prefix of dynalite's table records (db/index.js getSubDb('table')). */
const TABLE_PREFIX = 'table~';

interface TableRecord {
  TableName: string;
  TableStatus: string;
  CreationDateTime: number;
  GlobalSecondaryIndexes?: { IndexStatus?: string }[];
  BillingModeSummary?: { BillingMode?: string; LastUpdateToPayPerRequestDateTime?: number };
}

/** Makes every table left in CREATING in the LevelDB store at `path` ACTIVE; the names of those it changed. */
export async function finishInterruptedTables(path: string): Promise<string[]> {
  const store = dynaliteDb.create({ path });
  const finished: string[] = [];
  try {
    const entries = (await store.db.iterator({ gte: TABLE_PREFIX, lt: `${TABLE_PREFIX}\uffff` }).all()) as [string, unknown][];
    for (const [key, value] of entries) {
      const table = value as TableRecord | null;
      if (!table || typeof table !== 'object' || table.TableStatus !== 'CREATING') continue;
      // What dynalite's createTable does once createTableMs has passed.
      table.TableStatus = 'ACTIVE';
      for (const index of table.GlobalSecondaryIndexes ?? []) index.IndexStatus = 'ACTIVE';
      if (table.BillingModeSummary) table.BillingModeSummary.LastUpdateToPayPerRequestDateTime = table.CreationDateTime;
      await new Promise<void>((resolve, reject) => store.db.put(key, table, (err) => (err ? reject(err) : resolve())));
      finished.push(table.TableName);
    }
  } finally {
    await store.db.close();
  }
  return finished;
}
