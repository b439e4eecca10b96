/** The client's answer types mirror the GraphQL schema it talks to (client/ depends on the schema only). */
import { GraphQLEnumType, GraphQLNonNull, GraphQLObjectType, Kind, parse, type GraphQLOutputType, type OperationDefinitionNode } from 'graphql';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { loadSchema } from '../infra/local/services/appsync/graphql.ts';
import { ANSWER_STATUSES, ON_ANSWER, type AnswerEvent } from '../client/api.ts';
import { PUBLISH_ANSWER } from '../tasks/answer-events.ts';
import type { AnswerUsage } from '../client/executions.ts';
import type { RecordedRun, ReplayInput } from '../client/replay.ts';
import type { FailedRun } from '../tasks/record-failure.ts';
import { parseCause as tasksParseCause, UNKNOWN_LAMBDA_CAUSE_PREFIX } from '../tasks/lambda-error.ts';
import { parseCause as clientParseCause } from '../client/caught-error.ts';
import type { TokenUsage, WorkflowInput } from '../tasks/workflow-input.ts';
import { STACK_NAME } from '../client/cli/targets.ts';
import * as model from '../client/tenant-model.ts';
import { ORDERS_KEYS, TableNames, TENANT_ID_PATTERN, TENANT_STATUSES } from '../tasks/tables.ts';
import { DEFAULT_PLAN, PLAN_NAMES, PLANS } from '../tasks/plans.ts';
import * as usageModel from '../client/usage-model.ts';
import { daySortKey, monthSortKey, REFUSAL_REASONS, tenantPartition, USAGE_KEYS } from '../tasks/usage.ts';
import { MODELS, priceOf } from '../tasks/models.ts';
import { USER_POOL_PASSWORD_POLICY } from '../tasks/user-pool-policy.ts';
import { passwordPolicyViolation } from '../infra/local/services/cognito/passwords.ts';
import { DEFAULT_STACK_NAME } from '../infra/aws/stack-name.ts';

const schema = loadSchema();

describe('client answer types', () => {
  it("AnswerStatus has the schema enum's values", () => {
    const status = schema.getType('AnswerStatus') as GraphQLEnumType;
    expect([...ANSWER_STATUSES].sort()).toEqual(status.getValues().map((v) => v.name).sort());
  });

  it("AnswerEvent has the schema type's fields, nullable where the schema says", () => {
    const type = schema.getType('AnswerEvent') as GraphQLObjectType;
    const nullable = (t: GraphQLOutputType) => !(t instanceof GraphQLNonNull);
    const fields = Object.fromEntries(Object.values(type.getFields()).map((f) => [f.name, nullable(f.type)]));
    // The client's view of the same fields: a value of each, and whether it may be null.
    const client: Record<keyof AnswerEvent, boolean> = { answerId: false, userId: false, status: false, seq: false, text: true, error: true, step: true };
    expect(client).toEqual(fields);
  });

  it("the tasks' publishAnswer selects every field the client's onAnswer subscription reads (AppSync sends only those)", () => {
    /** The field names (no aliases: an aliased field reaches subscribers as null) of the operation's one root field. */
    const selected = (query: string) => {
      const op = parse(query).definitions[0] as OperationDefinitionNode;
      const root = op.selectionSet.selections[0]!;
      if (root.kind !== Kind.FIELD || !root.selectionSet) throw new Error('expected one root field with a selection set');
      return root.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD && !s.alias ? [s.name.value] : []));
    };
    const subscribed = selected(ON_ANSWER);
    expect(subscribed).toEqual(expect.arrayContaining(['answerId', 'userId', 'status', 'seq', 'text', 'error', 'step']));
    expect(selected(PUBLISH_ANSWER)).toEqual(expect.arrayContaining(subscribed));
    // Control: the selection the tasks used to send would not cover it.
    expect(['answerId', 'userId', 'status', 'seq']).not.toEqual(expect.arrayContaining(subscribed));
  });
});

// Checked by `tsc` (npm run typecheck), as the shapes are types only.
describe("the operator client's own copies of the workflow's record and input shapes", () => {
  it('reads every field of a run as RecordFailure writes it, with the same types', () => {
    expectTypeOf<FailedRun>().toEqualTypeOf<RecordedRun>();
  });

  it('starts replays with an input the state machine accepts', () => {
    expectTypeOf<ReplayInput>().toExtend<WorkflowInput>();
  });

  it("reads an answer's usage with the tasks' own shape", () => {
    expectTypeOf<AnswerUsage>().toEqualTypeOf<TokenUsage>();
  });
});

describe("the operator client's own copy of the Cause parser (tasks/lambda-error.ts)", () => {
  const causes: [string, string | undefined][] = [
    ['Assistant.InvalidRequest', JSON.stringify({ errorType: 'Assistant.InvalidRequest', errorMessage: 'The question is empty.', trace: ['at /var/task/index.mjs:1:1'] })],
    ['TenantSuspended', '{"errorMessage":"tenant1 is suspended"}'],
    ['Lambda.Unknown', `${UNKNOWN_LAMBDA_CAUSE_PREFIX}{"errorMessage":"2030-01-01T00:00:00.000Z r-1 Task timed out after 8.00 seconds"}`],
    ['Lambda.Unknown', `${UNKNOWN_LAMBDA_CAUSE_PREFIX}not json`],
    ['States.Timeout', 'States.Timeout'],
    ['States.Timeout', undefined],
    ['E', '{"foo":1}'],
    ['E', '{"errorType":"E","errorMessage":42}'],
    ['E', '{not json'],
  ];

  it.each(causes)('reads %s / %s as the tasks do', (error, cause) => {
    expect(clientParseCause({ Error: error, Cause: cause })).toEqual(tasksParseCause({ Error: error, Cause: cause }));
  });

  it('control: the causes above take every path (document, Lambda.Unknown payload, plain text)', () => {
    const read = causes.map(([error, cause]) => tasksParseCause({ Error: error, Cause: cause }));
    expect(read.map((r) => r.errorMessage)).toEqual([
      'The question is empty.',
      'tenant1 is suspended',
      '2030-01-01T00:00:00.000Z r-1 Task timed out after 8.00 seconds',
      `${UNKNOWN_LAMBDA_CAUSE_PREFIX}not json`,
      'States.Timeout',
      '',
      '{"foo":1}',
      '{"errorType":"E","errorMessage":42}',
      '{not json',
    ]);
  });
});

describe('client copies of deployment names', () => {
  it("reads cdk-outputs.json under the deployed stack's default name (infra/aws/stack-name.ts)", () => {
    expect(STACK_NAME).toBe(DEFAULT_STACK_NAME);
  });
});

describe('client copies of the tenant model (client/tenant-model.ts)', () => {
  it('equal their sources: tenant id pattern, tenant statuses, orders table name and keys, plans, password policy', () => {
    expect(model.TENANT_ID_PATTERN.source).toBe(TENANT_ID_PATTERN.source);
    expect(model.TENANT_STATUSES).toEqual(TENANT_STATUSES);
    expect(model.ordersTableName('p-', 'tenant9')).toBe(new TableNames('p-').orders('tenant9'));
    expect(model.ORDERS_KEYS).toEqual(ORDERS_KEYS);
    expect(model.DEFAULT_PLAN).toBe(DEFAULT_PLAN);
    expect(model.PLAN_NAMES).toEqual(PLAN_NAMES);
    const { temporaryPasswordValidityDays: _days, ...policy } = USER_POOL_PASSWORD_POLICY;
    expect(model.PASSWORD_POLICY).toEqual(policy);
  });

  it('generates temporary passwords the user pool accepts (control: a weak one is refused)', () => {
    for (let i = 0; i < 200; i++) expect(passwordPolicyViolation(model.generateTemporaryPassword())).toBeUndefined();
    expect(passwordPolicyViolation('alllowercase')).toBeDefined();
  });
});

describe('client copies of plans, the usage table and model prices (client/usage-model.ts)', () => {
  it('equal their sources: plans and limits, table name and keys, item keys, refusal reasons', () => {
    expect(usageModel.PLANS).toEqual(PLANS);
    expect(usageModel.usageTableName('p-')).toBe(new TableNames('p-').usage);
    expect(usageModel.USAGE_KEYS).toEqual(USAGE_KEYS);
    expect(usageModel.tenantPartition('tenant9')).toBe(tenantPartition('tenant9'));
    expect(`${usageModel.DAY_PREFIX}2026-12-03`).toBe(daySortKey('2026-12-03T13:08:55.123Z'));
    expect(`${usageModel.MONTH_PREFIX}2026-12`).toBe(monthSortKey('2026-12-03T13:08:55.123Z'));
    expect(usageModel.REFUSAL_REASONS).toEqual(REFUSAL_REASONS);
  });

  it("equal the models table's prices, for each model id and profile id (control: a changed price is told apart)", () => {
    const geographic = (m: (typeof MODELS)[number]) => (['us', 'eu', 'apac'] as const).flatMap((g) => (m.profiles[g] ? [m.profiles[g]] : []));
    expect(usageModel.MODEL_PRICES.map((m) => ({ modelId: m.modelId, name: m.name, ids: m.ids, price: m.price }))).toEqual(
      MODELS.map((m) => ({ modelId: m.modelId, name: m.name, ids: [m.modelId, ...geographic(m)], price: m.price })),
    );
    const every = MODELS.flatMap((m) => [m.modelId, ...Object.values(m.profiles)]);
    for (const id of [...every, 'anthropic.claude-unknown-v1:0']) expect(usageModel.priceOf(id)).toEqual(priceOf(id));
    const changed = usageModel.MODEL_PRICES.map((m, i) => (i === 0 ? { ...m, price: { inputPer1k: 1, outputPer1k: 2 } } : m));
    expect(usageModel.priceOf(MODELS[0]!.modelId, changed)).not.toEqual(priceOf(MODELS[0]!.modelId));
  });
});
