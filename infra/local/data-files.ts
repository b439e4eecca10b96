/**
 * The files of a data directory (`.data/`), checked at start before any stand-in reads or writes
 * them: a damaged file, or data whose identity file is missing, refuses the start with a message
 * that names the file, says what is wrong and the way out; nothing in the directory is changed.
 *
 *   stack.json             the stack's identity: users' ids (orders are keyed by them), local keys, seal key, seed record
 *   cognito.json           the user pool: users, password hashes, signing key, refresh tokens
 *   local-users.json       usernames and local passwords for the CLIs (rewritten at every start; chosen passwords kept)
 *   local-env.json         endpoints and local principals' keys for the CLIs (rewritten at every start)
 *   secretsmanager.json    the users' first passwords as Secrets Manager secrets
 *   dynamodb-tables.json   table settings dynalite does not keep (deletion protection, PITR, backups)
 *   dynamodb/              dynalite's LevelDB: every table and item
 *   executions/            one record per Step Functions execution
 *   appsync-deliveries.log terminal events the local AppSync accepted (services/appsync/delivery-log.ts; a damaged line is dropped, not refused)
 *   backups/               on-demand DynamoDB backups
 *   stack.lock             the running stack's pid and endpoints (data-dir-lock.ts)
 *   tls/                   the local CA and the HTTPS endpoint's certificate (tls.ts checks them: a CA that cannot be used refuses the start)
 *   amplify_outputs.json   the Amplify Gen 2 client configuration (tasks/amplify-outputs.ts; rewritten at every start)
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { z } from 'zod';

export const STACK_STATE_FILE = 'stack.json';

/** A file of the data directory that cannot be used as it is: the message says which, what is wrong and the way out. */
export class DataFileError extends Error {
  readonly code = 'DATA_FILE_DAMAGED';
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly wayOut: string,
  ) {
    super(`${file}: ${problem.replace(/\s+/g, ' ')}. Way out: ${wayOut}.`);
    this.name = 'DataFileError';
  }
}

const freshStart = (dataDir: string) => `move the data directory aside (mv ${dataDir} ${dataDir}.damaged) and start again: the start seeds a fresh one`;
const restoreOrFresh = (dataDir: string) => `restore it from a backup, or ${freshStart(dataDir)}`;

const User = z.object({ username: z.string(), sub: z.string(), tenantId: z.string() });
/** The shape each JSON file must have to be used (the stand-ins check their own fields further). */
const SHAPES: Record<string, z.ZodType> = {
  [STACK_STATE_FILE]: z.object({ keys: z.record(z.string(), z.unknown()), kmsKeys: z.array(z.unknown()), users: z.array(User) }),
  'cognito.json': z.object({ version: z.number(), signingKey: z.object({ kid: z.string(), privateJwk: z.object({}).loose() }), users: z.record(z.string(), z.unknown()) }),
  'secretsmanager.json': z.object({ secrets: z.array(z.unknown()) }),
  'dynamodb-tables.json': z.object({}).loose(),
  'local-users.json': z.object({ users: z.array(z.object({ username: z.string(), sub: z.string() }).loose()) }),
  'local-env.json': z.object({}).loose(),
};
const ExecutionRecord = z.object({ executionArn: z.string(), status: z.string(), events: z.array(z.unknown()) });

/** What is wrong with `text` as a `shape` JSON document; undefined when nothing is. */
function jsonProblem(text: string, shape: z.ZodType): string | undefined {
  if (text.trim() === '') return 'the file is empty (a write cut short?)';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `not valid JSON (${(err as Error).message})`;
  }
  const parsed = shape.safeParse(value);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  return `valid JSON, but not what this stack wrote: ${issue.path.join('.') || 'the document'}: ${issue.message}`;
}

function checkJsonFile(file: string, shape: z.ZodType, wayOut: string): void {
  if (!existsSync(file)) return;
  const problem = jsonProblem(readFileSync(file, 'utf8'), shape);
  if (problem) throw new DataFileError(file, problem, wayOut);
}

/** The files and folders that only a persisted start writes: data that belongs to a stack.json. */
function dataOfEarlierStart(dataDir: string): string[] {
  const found: string[] = [];
  for (const name of ['cognito.json', 'secretsmanager.json', 'dynamodb-tables.json']) if (existsSync(path.join(dataDir, name))) found.push(name);
  if (existsSync(path.join(dataDir, 'dynamodb', 'CURRENT'))) found.push('dynamodb/');
  const executions = path.join(dataDir, 'executions');
  if (existsSync(executions) && readdirSync(executions).some((f) => f.endsWith('.json'))) found.push('executions/');
  if (existsSync(path.join(dataDir, 'backups'))) found.push('backups/');
  return found;
}

/**
 * Checks a data directory before the stack uses it (the caller holds its lock). `dataDir`: the
 * persisted state (undefined in memory); `localUsersDir`: where local-users.json is kept.
 * Throws DataFileError for the first problem found; reads only.
 */
export async function checkDataFiles(dataDir: string | undefined, localUsersDir: string | undefined): Promise<void> {
  if (localUsersDir) {
    checkJsonFile(
      path.join(localUsersDir, 'local-users.json'),
      SHAPES['local-users.json']!,
      `restore it from a backup, or delete it: the start writes it again from the user pool, and a user whose password npm run ask chose gets a new one with npm run users -- reset-password USER`,
    );
  }
  if (!dataDir) return;
  const stackFile = path.join(dataDir, STACK_STATE_FILE);
  if (!existsSync(stackFile)) {
    const data = dataOfEarlierStart(dataDir);
    if (data.length > 0) {
      throw new DataFileError(
        stackFile,
        `missing, while the directory holds data of an earlier start (${data.join(', ')}). stack.json holds the users' ids (their orders are keyed by them), ` +
          `the local principals' keys and the seal key: a start without it would make new ones and leave every user's orders unreachable, so nothing was started or changed`,
        `restore stack.json from a backup of this directory (the rest is intact), or ${freshStart(dataDir)}`,
      );
    }
  }
  for (const [name, shape] of Object.entries(SHAPES)) {
    if (name === 'local-users.json') continue;
    const wayOut =
      name === 'local-env.json' ? 'delete it: the start writes it again' : name === STACK_STATE_FILE ? `restore it from a backup (the users' ids are in it), or ${freshStart(dataDir)}` : restoreOrFresh(dataDir);
    checkJsonFile(path.join(dataDir, name), shape, wayOut);
  }
  const executions = path.join(dataDir, 'executions');
  if (existsSync(executions)) {
    const entries = readdirSync(executions);
    for (const entry of entries) {
      if (!entry.endsWith('.json')) continue;
      // A complete temporary copy of the record (a write cut short by a kill) is what the store recovers it from (stepfunctions/store.ts).
      const recoverable = entries.some(
        (t) => t.startsWith(`${entry}.`) && t.endsWith('.tmp') && jsonProblem(readFileSync(path.join(executions, t), 'utf8'), ExecutionRecord) === undefined,
      );
      if (recoverable) continue;
      checkJsonFile(
        path.join(executions, entry),
        ExecutionRecord,
        `restore it from a backup, or move that one file out of ${executions} (only that execution's record and history are lost), or ${freshStart(dataDir)}`,
      );
    }
  }
  await probeDynamoStore(dataDir);
}

interface LevelDb {
  open(): Promise<void>;
  close(): Promise<void>;
  keys(): AsyncIterable<unknown>;
}
/** The LevelDB binding dynalite itself uses (its dependency `level`), so the check opens the store as dynalite will. */
function levelOfDynalite(): new (location: string, options: { createIfMissing: boolean }) => LevelDb {
  const fromHere = createRequire(import.meta.url);
  return (createRequire(fromHere.resolve('dynalite'))('level') as { Level: new (location: string, options: { createIfMissing: boolean }) => LevelDb }).Level;
}

const PROBE_PREFIX = '.dynamodb-check-';

/**
 * Opens a copy of `<dataDir>/dynamodb` (immutable table files hard-linked, the rest copied) as
 * dynalite would open the store, and refuses when LevelDB cannot open it or reports damage while
 * recovering it: LevelDB drops damaged records of its log at open, silently, so the check runs on
 * the copy and the store itself is never opened damaged. Every key is read once, so that a damaged
 * table file is found now rather than by the first request that reads it.
 */
export async function probeDynamoStore(dataDir: string): Promise<void> {
  const store = path.join(dataDir, 'dynamodb');
  for (const entry of existsSync(dataDir) ? readdirSync(dataDir) : []) {
    // A check a killed start left behind (the caller holds the lock: no other check runs).
    if (entry.startsWith(PROBE_PREFIX)) rmSync(path.join(dataDir, entry), { recursive: true, force: true });
  }
  if (!existsSync(store)) return;
  const files = readdirSync(store);
  const wayOut = `restore ${store} from a backup, or ${freshStart(dataDir)}`;
  if (!files.includes('CURRENT')) {
    if (files.some((f) => /^MANIFEST-|\.(ldb|sst|log)$/.test(f))) {
      throw new DataFileError(path.join(store, 'CURRENT'), 'missing, while the LevelDB store holds tables: LevelDB cannot find them without it', wayOut);
    }
    return;
  }
  const probe = path.join(dataDir, `${PROBE_PREFIX}${randomUUID()}`);
  mkdirSync(probe, { mode: 0o700 });
  try {
    for (const f of files) {
      if (f === 'LOCK' || f.startsWith('LOG')) continue;
      const from = path.join(store, f);
      if (!statSync(from).isFile()) continue;
      if (/\.(ldb|sst)$/.test(f)) linkSync(from, path.join(probe, f));
      else copyFileSync(from, path.join(probe, f));
    }
    const Level = levelOfDynalite();
    const db = new Level(probe, { createIfMissing: false });
    try {
      await db.open();
    } catch (err) {
      throw new DataFileError(store, `LevelDB cannot open it: ${levelMessage(err).split(probe).join(store)}`, wayOut);
    }
    try {
      // Every table file is read once (LevelDB reads table files only when asked for their keys).
      for await (const _key of db.keys()) void _key;
    } catch (err) {
      throw new DataFileError(store, `LevelDB finds damage while reading it: ${levelMessage(err).split(probe).join(store)}`, wayOut);
    } finally {
      await db.close();
    }
    const log = existsSync(path.join(probe, 'LOG')) ? readFileSync(path.join(probe, 'LOG'), 'utf8') : '';
    const damage = log.split('\n').find((line) => /Corruption/.test(line));
    if (damage) {
      const detail = damage.replace(/^\S+ \S+ /, '').split(probe).join(store);
      throw new DataFileError(store, `LevelDB finds damaged records in it and would drop them at open (${detail}); nothing was dropped`, wayOut);
    }
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** LevelDB's own words for an error of the `level` binding (its cause holds them when it has one). */
function levelMessage(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  return e.cause?.message ?? e.message ?? String(err);
}

/**
 * An error dynalite's LevelDB store raises while the stack runs (dynalite throws it outside any
 * request, so it ends the process), as the message npm start prints; undefined for any other error.
 */
export function storeFailure(err: unknown, dataDir: string): DataFileError | undefined {
  const e = err as { code?: unknown; message?: unknown };
  const level = (typeof e.code === 'string' && e.code.startsWith('LEVEL_')) || (typeof e.message === 'string' && /^(Corruption|IO error): |^Database is closed$/.test(e.message));
  if (!level) return undefined;
  const store = path.join(dataDir, 'dynamodb');
  return new DataFileError(
    store,
    `LevelDB failed while the stack ran (${levelMessage(err)}): a file of the store is damaged or was changed by another program; the stack stopped`,
    `restore ${store} from a backup, or ${freshStart(dataDir)}`,
  );
}
