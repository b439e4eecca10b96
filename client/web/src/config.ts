/**
 * Where the UI finds its services. The local stack serves `config.json` beside the UI (same origin,
 * relative GraphQL URLs); `npm run web:build -- --aws` writes one from cdk-outputs.json.
 */

export interface OperatorConfig {
  /** The Step Functions and DynamoDB endpoint (the local edge). */
  endpoint: string;
  region: string;
  stateMachineArn: string;
  runsTable: string;
  /** The tenants view: the tenant config table, the tables' name prefix and the user pool (Cognito on the same endpoint). */
  configTable: string;
  tablePrefix: string;
  userPoolId: string;
}

export interface WebConfig {
  mode: 'local' | 'aws';
  region: string;
  userPool: { clientId: string; endpoint?: string };
  /** The GraphQL endpoint; may be relative to the page (`/graphql`). */
  graphqlUrl: string;
  /** The realtime endpoint; may be relative to the page (`/graphql/realtime`); http(s) becomes ws(s). */
  realtimeUrl: string;
  /** Local mode only: the executions and tenants views for operators (on AWS the Step Functions console and `npm run tenants` play this role). */
  operator?: OperatorConfig;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Checks the shape of a parsed config.json; throws a ConfigError naming the first bad member. */
export function parseConfig(value: unknown): WebConfig {
  const v = value as Partial<WebConfig> | null;
  const need = (ok: boolean, member: string) => {
    if (!ok) throw new ConfigError(`config.json: ${member} is missing or not valid.`);
  };
  need(typeof v === 'object' && v !== null, 'the document');
  need(v!.mode === 'local' || v!.mode === 'aws', 'mode');
  need(isString(v!.region), 'region');
  need(isString(v!.userPool?.clientId), 'userPool.clientId');
  need(v!.userPool!.endpoint === undefined || isString(v!.userPool!.endpoint), 'userPool.endpoint');
  need(isString(v!.graphqlUrl), 'graphqlUrl');
  need(isString(v!.realtimeUrl), 'realtimeUrl');
  const op = v!.operator;
  if (op !== undefined) {
    need(isString(op.endpoint) && isString(op.region) && isString(op.stateMachineArn) && isString(op.runsTable), 'operator');
    need(isString(op.configTable) && typeof op.tablePrefix === 'string' && isString(op.userPoolId), 'operator (tenants view)');
  }
  return v as WebConfig;
}

/** The absolute GraphQL and realtime URLs for a page at `pageUrl`. */
export function resolveEndpoints(config: Pick<WebConfig, 'graphqlUrl' | 'realtimeUrl'>, pageUrl: string): { graphqlUrl: string; realtimeUrl: string } {
  const graphqlUrl = new URL(config.graphqlUrl, pageUrl).toString();
  const realtime = new URL(config.realtimeUrl, pageUrl);
  if (realtime.protocol === 'http:') realtime.protocol = 'ws:';
  if (realtime.protocol === 'https:') realtime.protocol = 'wss:';
  return { graphqlUrl, realtimeUrl: realtime.toString() };
}

export async function loadConfig(pageUrl: string, fetchImpl: typeof fetch = fetch): Promise<WebConfig> {
  const response = await fetchImpl(new URL('config.json', pageUrl)); // served with no-store
  if (!response.ok) throw new ConfigError(`config.json could not be loaded (HTTP ${response.status}).`);
  return parseConfig(await response.json());
}
