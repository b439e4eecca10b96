/**
 * Only the publish role may call `publishAnswer`. validate-context and invoke-agent publish their
 * progress events as sessions of it, which their roles may assume and no other principal may.
 * Every refusal has a control that succeeds with the same request.
 */
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnswerEventRecord } from '../infra/local/services/appsync/graphql.ts';
import type { LocalCredentials, LocalPrincipalName } from '../infra/local/iam/principals.ts';
import type { LocalUser } from '../infra/local/services/cognito/service.ts';
import { startLocalStack, type LocalStack } from '../infra/local/stack.ts';
import { AnswerEvents, answerEventsClient, PUBLISH_ANSWER, type AnswerEventInput } from '../tasks/answer-events.ts';
import { localTaskConfig } from '../infra/local/services/lambda/functions.ts';
import { GraphqlRequestError, IamGraphqlClient } from '../tasks/graphql-client.ts';
import { PUBLISH_ROLE_ASSUMERS } from '../tasks/policies.ts';
import { publishRoleCredentials } from '../tasks/publish-role.ts';
import { failure } from './aws-failure.ts';

let stack: LocalStack;
let asker: LocalUser;
const published: AnswerEventRecord[] = [];

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, lambdaSandbox: false });
  asker = stack.user('tenant1-user');
  stack.appsync.events.on('publish', (e: AnswerEventRecord) => published.push(e));
});

afterAll(async () => {
  await stack?.stop();
});

const sts = (who: LocalPrincipalName) => new STSClient(stack.clientConfig(who));
const graphql = (credentials: LocalCredentials | ReturnType<typeof publishRoleCredentials>) =>
  new IamGraphqlClient({ url: stack.graphqlUrl, region: stack.iam.location.region, credentials });

let n = 0;
function progressEvent(): AnswerEventInput {
  return { answerId: `${asker.sub}.publish-role-${++n}`, userId: asker.sub, status: 'PROGRESS', seq: 2, text: 'checking your account', error: null, step: 'ValidateContext' };
}

describe('publishAnswer: the publish role only', () => {
  it.each(PUBLISH_ROLE_ASSUMERS)('refuses %s signing with its own role (Unauthorized), and publishes as its publish-role session', async (task) => {
    const event = progressEvent();
    const own = await graphql(stack.iam.credentials(task)).request(PUBLISH_ANSWER, { ...event }).catch((e: unknown) => e);
    expect(own).toBeInstanceOf(GraphqlRequestError);
    expect((own as GraphqlRequestError).errors[0]).toMatchObject({ errorType: 'Unauthorized' });
    expect(published.filter((e) => e.answerId === event.answerId)).toEqual([]);

    // The control: the same event, signed by a session of the publish role assumed with the task's role.
    const session = publishRoleCredentials(sts(task), stack.iam.resources.publishRoleArn, task);
    await graphql(session).request(PUBLISH_ANSWER, { ...event });
    expect(published.filter((e) => e.answerId === event.answerId)).toMatchObject([{ status: 'PROGRESS', userId: asker.sub, seq: 2 }]);
    const who = await new STSClient({ ...stack.clientConfig('operator'), credentials: await session() }).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toBe(`arn:aws:sts::${stack.iam.location.accountId}:assumed-role/publish-answer/${task}`);
  });

  it('publishes DONE with the publish-answer role itself', async () => {
    const event = { ...progressEvent(), status: 'DONE' as const, seq: 1000, text: 'You can return items within 10 days.', step: 'PublishAnswer' };
    await graphql(stack.iam.credentials('publish-answer')).request(PUBLISH_ANSWER, { ...event });
    expect(published.filter((e) => e.answerId === event.answerId)).toMatchObject([{ status: 'DONE' }]);
  });

  it.each(['mint-credentials', 'record-failure', 'operator', 'appsync-api'] as const)('does not let %s assume the publish role (AccessDenied)', async (who) => {
    const assume = (as: LocalPrincipalName) =>
      sts(as).send(new AssumeRoleCommand({ RoleArn: stack.iam.resources.publishRoleArn, RoleSessionName: 'forged', DurationSeconds: 900 }));
    expect(await failure(assume(who))).toMatchObject({ name: 'AccessDenied', status: 403 });
    // The control: a trusted role's identical request.
    expect((await assume('validate-context')).Credentials?.AccessKeyId).toBeTruthy();
  });

  it("a role the task may not assume: the progress is dropped, logged as PublishRoleUnavailable, and nothing is published", async () => {
    const lines: Record<string, unknown>[] = [];
    const send = async (publishRoleArn: string) => {
      const config = { ...localTaskConfig(stack.iam, stack.graphqlUrl, 'bedrock-agent'), publishRoleArn };
      const { answerId, userId } = progressEvent();
      const events = new AnswerEvents(answerEventsClient(config, stack.clientConfig('validate-context'), 'validate-context'), { answerId, userId }, 1, (l) => lines.push(l));
      events.accepted();
      events.progress('ValidateContext');
      expect(await events.flush()).toBeGreaterThan(0);
      return published.filter((e) => e.answerId === answerId);
    };
    // The tenant access role trusts mint-credentials only.
    expect(await send(stack.iam.resources.tenantAccessRoleArn)).toEqual([]);
    expect(lines.filter((l) => l.msg === 'answer_events.publish_failed')).toEqual([
      expect.objectContaining({ level: 'warn', status: 'ACCEPTED', error: 'PublishRoleUnavailable' }),
    ]);
    expect(lines.filter((l) => l.msg === 'answer_events.dropped')).toEqual([expect.objectContaining({ dropped: 1 })]);
    // The control: the publish role itself.
    expect((await send(stack.iam.resources.publishRoleArn)).map((e) => e.status)).toEqual(['ACCEPTED', 'PROGRESS']);
  });
});
