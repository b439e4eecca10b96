/**
 * Data: the tenant config table (pooled), one orders table per tenant (silo), the runs table and
 * the answer claims table (idempotency, with Time to Live), the conversations table (memory, with
 * Time to Live), with the key schemas of
 * tasks/tables.ts and the physical names the policies name.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { tenantConfigItem, type SeedTenant } from '../../tasks/seed.ts';
import {
  CLAIM_EXPIRY_ATTRIBUTE,
  CLAIMS_KEYS,
  CONFIG_KEYS,
  CONVERSATION_EXPIRY_ATTRIBUTE,
  CONVERSATIONS_KEYS,
  ORDERS_KEYS,
  RUNS_KEYS,
  type KeySchema,
  type TableNames,
} from '../../tasks/tables.ts';
import { USAGE_EXPIRY_ATTRIBUTE, USAGE_KEYS } from '../../tasks/usage.ts';

export interface DataProps {
  readonly tables: TableNames;
  /** Tenants that get an orders table and a config item (added by any deploy that finds it missing; never overwritten). */
  readonly tenants: readonly SeedTenant[];
  /** What happens to the tables (and their data) when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

export class Data extends Construct {
  readonly config: dynamodb.Table;
  readonly runs: dynamodb.Table;
  /** Answers claimed by ValidateContext; DynamoDB's TTL deletes expired claims. */
  readonly claims: dynamodb.Table;
  /** The converse runtime's conversation memory, one partition per asker; DynamoDB's TTL deletes old turns. */
  readonly conversations: dynamodb.Table;
  /** Admission counters and token metering (tasks/usage.ts), with Time to Live. */
  readonly usage: dynamodb.Table;
  readonly orders: ReadonlyMap<string, dynamodb.Table>;
  /** The custom resources that add the tenants' config items, one per tenant. */
  readonly seeds: readonly cr.AwsCustomResource[];

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id);
    const table = (constructId: string, tableName: string, keys: KeySchema, timeToLiveAttribute?: string) =>
      new dynamodb.Table(this, constructId, {
        tableName,
        ...(timeToLiveAttribute ? { timeToLiveAttribute } : {}),
        partitionKey: { name: keys.partitionKey, type: dynamodb.AttributeType.STRING },
        ...(keys.sortKey ? { sortKey: { name: keys.sortKey, type: dynamodb.AttributeType.STRING } } : {}),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      });
    this.config = table('TenantConfig', props.tables.config, CONFIG_KEYS);
    this.runs = table('Runs', props.tables.runs, RUNS_KEYS);
    this.claims = table('AnswerClaims', props.tables.claims, CLAIMS_KEYS, CLAIM_EXPIRY_ATTRIBUTE);
    this.conversations = table('Conversations', props.tables.conversations, CONVERSATIONS_KEYS, CONVERSATION_EXPIRY_ATTRIBUTE);
    this.usage = table('Usage', props.tables.usage, USAGE_KEYS, USAGE_EXPIRY_ATTRIBUTE);
    this.orders = new Map(props.tenants.map(({ tenantId: t }) => [t, table(`Orders-${t}`, props.tables.orders(t), ORDERS_KEYS)]));

    // The tenants' config items (tasks/seed.ts), added on create and on update but never overwritten
    // (operators own them once written): one conditional PutItem per tenant, whose "the row exists"
    // (ConditionalCheckFailedException) counts as done. A tenant added to the seed is a new resource.
    const configArn = this.config.tableArn;
    this.seeds = props.tenants.map((t) => {
      const put: cr.AwsSdkCall = {
        service: 'DynamoDB',
        action: 'PutItem',
        parameters: {
          TableName: props.tables.config,
          Item: attributeValues(tenantConfigItem(t, props.tables)),
          ConditionExpression: 'attribute_not_exists(#tenantId)',
          ExpressionAttributeNames: { '#tenantId': CONFIG_KEYS.partitionKey },
        },
        physicalResourceId: cr.PhysicalResourceId.of(`${props.tables.config}-seed-${t.tenantId}`),
        ignoreErrorCodesMatching: '^ConditionalCheckFailedException$',
      };
      const seed = new cr.AwsCustomResource(this, `SeedTenantConfig-${t.tenantId}`, {
        onCreate: put,
        onUpdate: put,
        policy: cr.AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [configArn] })]),
        installLatestAwsSdk: false,
      });
      seed.node.addDependency(this.config);
      return seed;
    });
  }
}

/** A flat item of strings and numbers in DynamoDB's attribute value JSON. */
function attributeValues(item: object): Record<string, { S: string } | { N: string }> {
  return Object.fromEntries(
    Object.entries(item).map(([k, v]) => {
      if (typeof v === 'number') return [k, { N: String(v) }];
      if (typeof v === 'string') return [k, { S: v }];
      throw new Error(`Seed attribute ${k} is neither a string nor a number`);
    }),
  );
}
