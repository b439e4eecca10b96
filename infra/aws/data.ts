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

export interface DataProps {
  readonly tables: TableNames;
  /** Tenants that get an orders table and a config item (written once, when the stack is created). */
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
  readonly orders: ReadonlyMap<string, dynamodb.Table>;
  /** The custom resource that writes the tenants' config items. */
  readonly seed: cr.AwsCustomResource;

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
    this.orders = new Map(props.tenants.map(({ tenantId: t }) => [t, table(`Orders-${t}`, props.tables.orders(t), ORDERS_KEYS)]));

    // The tenants' config items (tasks/seed.ts), written on create only: operators own them afterwards.
    const items = props.tenants.map((t) => ({ PutRequest: { Item: attributeValues(tenantConfigItem(t, props.tables)) } }));
    this.seed = new cr.AwsCustomResource(this, 'SeedTenantConfig', {
      onCreate: {
        service: 'DynamoDB',
        action: 'BatchWriteItem',
        parameters: { RequestItems: { [props.tables.config]: items } },
        physicalResourceId: cr.PhysicalResourceId.of(`${props.tables.config}-seed`),
      },
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['dynamodb:BatchWriteItem'], resources: [this.config.tableArn] }),
      ]),
      installLatestAwsSdk: false,
    });
    this.seed.node.addDependency(this.config);
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
