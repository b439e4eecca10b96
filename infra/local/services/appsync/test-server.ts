/**
 * A local AppSync for the suites in this folder: the real schema and resolvers, IAM evaluated by
 * the real evaluator, no HTTP data source, published events collected. Not used by the stack.
 */
import { LocalAppSync, type AnswerEventRecord, type LocalAppSyncOptions } from './graphql.ts';
import { loadResolver } from './resolver-runtime.ts';
import { RESOLVERS } from '../../../resolvers.ts';
import { PolicyEvaluator } from '../../iam/evaluator.ts';
import { silentLogger } from '../../edge/log.ts';
import type { LocalIam } from '../../iam/principals.ts';

export interface TestAppSync {
  appsync: LocalAppSync;
  url: string;
  /** Every event published through `publishAnswer`, in order. */
  published: AnswerEventRecord[];
}

export async function startTestAppSync(iam: LocalIam, options: Partial<LocalAppSyncOptions> = {}): Promise<TestAppSync> {
  const appsync = new LocalAppSync({
    iam,
    evaluator: new PolicyEvaluator(),
    clock: () => new Date(),
    logger: silentLogger,
    apiArn: iam.resources.graphqlApiArn,
    resolvers: await Promise.all(RESOLVERS.map(loadResolver)),
    env: {},
    httpDataSource: () => Promise.reject(new Error('no HTTP data source in this test')),
    ...options,
  });
  const published: AnswerEventRecord[] = [];
  appsync.events.on('publish', (e: AnswerEventRecord) => published.push(e));
  const url = await appsync.listen(0);
  return { appsync, url, published };
}
