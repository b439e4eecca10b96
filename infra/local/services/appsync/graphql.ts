/**
 * The local AppSync GraphQL endpoint (POST /graphql), executing resolvers/schema.graphql with the
 * `graphql` library. This first part serves IAM-signed callers: the SigV4 signature is verified
 * like at the edge (service `appsync`), each top-level field must carry `@aws_iam`, and the caller
 * needs `appsync:GraphQL` on that field's ARN. `publishAnswer` is a NONE data source: it returns its
 * arguments and hands the event to the subscribers of `events`.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  execute,
  executeSync,
  getOperationAST,
  valueFromASTUntyped,
  GraphQLError,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type GraphQLResolveInfo,
  type OperationDefinitionNode,
} from 'graphql';
import { QUERY_DEPTH_LIMIT, RESOLVER_COUNT_LIMIT } from '../../../../tasks/api-limits.ts';
import { mutationSelection } from './mutation-selection.ts';
import { AuthError } from '../../edge/aws-error.ts';
import { matchesFilter, ResolverError, runResolver, type AppendedError, type LoadedResolver } from './resolver-runtime.ts';
import type { ApiTable, DataSource } from '../../../resolvers.ts';
import { RealtimeServer } from './realtime.ts';
import { introspectionErrors } from './introspection.ts';
import { DeliveryLog } from './delivery-log.ts';
import type { PolicyEvaluator } from '../../iam/evaluator.ts';
import type { Logger } from '../../edge/log.ts';
import type { LocalIam, Principal } from '../../iam/principals.ts';
import { authenticateSigned, parseAuthorization } from '../../edge/sigv4.ts';
import { BodyTooLargeError, readBody } from '../../edge/http-body.ts';
import { answerCors } from './cors.ts';
import { FieldRefused, guardedFieldResolver } from './field-guard.ts';
import { BadGraphqlRequest, MAX_GRAPHQL_REQUEST_BYTES, parseGraphqlRequest, requestPath, type GraphqlRequest } from './request.ts';
import { fieldAuthModes, loadSchema, type AuthMode } from './schema.ts';

export { loadSchema, SCHEMA_FILE } from './schema.ts';

export interface AnswerEventRecord {
  answerId: string;
  userId: string;
  status: string;
  seq: number;
  text?: string | null;
  error?: string | null;
  step?: string | null;
}

/** The identity a Cognito user pool caller gets in `ctx.identity`, as AppSync builds it. */
export interface CognitoIdentity {
  sub: string;
  username: string;
  issuer: string;
  claims: Record<string, unknown>;
  sourceIp: string[];
  groups: string[] | null;
  defaultAuthStrategy: 'ALLOW';
}

export interface LocalAppSyncOptions {
  iam: LocalIam;
  evaluator: PolicyEvaluator;
  clock: () => Date;
  logger: Logger;
  apiArn: string;
  /** The resolvers, loaded from their bundles. */
  resolvers: readonly LoadedResolver[];
  /** `ctx.env` of the API. */
  env: Record<string, string>;
  /** Performs an HTTP data source request, signed with the API's data source role. */
  httpDataSource(service: string, request: HttpDataSourceRequest): Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;
  /** Performs a DynamoDB data source request on `table`, signed with that data source's role: `ctx.result`, or a DataSourceError. */
  dynamodbDataSource?(table: ApiTable, request: unknown): Promise<unknown>;
  /** Verifies a Cognito user pool token (signature, issuer, client, token_use, expiry). */
  verifyUserPoolToken?(token: string): Promise<Record<string, unknown>>;
  /** Serve introspection (`__schema`, `__type`), as an API with `introspectionConfig: ENABLED`. @default false (DISABLED, as deployed) */
  introspection?: boolean;
  /**
   * Where a terminal event (DONE, FAILED) is recorded durably before it goes to subscribers: the
   * twin's own crash recovery reads it (delivery-log.ts). @default none (nothing recorded)
   */
  deliveryLog?: DeliveryLog;
}

export interface HttpDataSourceRequest {
  method: string;
  resourcePath: string;
  params?: { headers?: Record<string, string>; query?: Record<string, string>; body?: string };
}


type Caller = { mode: 'aws_iam'; principal: Principal } | { mode: 'aws_cognito_user_pools'; identity: CognitoIdentity };

class AppSyncError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

/** A fault for the next `times` requests (only of `publishAnswer` events with one of `statuses`, if set). */
export interface AppSyncFault {
  status: number;
  errorType: string;
  times: number;
  statuses?: readonly string[];
}

/** Serves a request (a site beside the API); false when it is not one of its own. */
export type SiteHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;

/** A query that cannot be run: not GraphQL at all, or not valid against the schema. */
type InvalidDocument = { invalid: 'malformed'; message: string } | { invalid: 'schema'; errors: readonly GraphQLError[] };

/** Valid query documents kept by their text (the oldest dropped first). */
const MAX_CACHED_DOCUMENTS = 64;

export class LocalAppSync {
  /** 'publish' events: every AnswerEvent published through `publishAnswer`, as subscribers get it (the mutation's selection set). */
  readonly events = new EventEmitter();
  private readonly schema = loadSchema();
  private readonly documents = new Map<string, DocumentNode>();
  /** The HTTP server, and the HTTPS one once `listenTls` ran. */
  private readonly servers: (http.Server | https.Server)[] = [];
  private realtime?: RealtimeServer<CognitoIdentity, AnswerEventRecord>;
  private faults: AppSyncFault[] = [];
  private site?: SiteHandler;
  /** The API's default authorization mode (infra/aws/api.ts: the user pool). */
  private readonly defaultAuthMode: AuthMode = 'aws_cognito_user_pools';

  /** Serves other GET requests on this port (the web UI, infra/local/web.ts); it answers false for what it does not serve. */
  serveSite(site: SiteHandler): void {
    this.site = site;
  }

  /**
   * The next `times` authenticated requests fail with `status` (tests of the failure path); with
   * `statuses`, only the `publishAnswer` requests of events with one of those statuses.
   */
  injectFault(fault: AppSyncFault): void {
    this.faults.push({ ...fault });
  }

  clearFaults(): void {
    this.faults = [];
  }

  constructor(private readonly options: LocalAppSyncOptions) {
    this.events.setMaxListeners(0);
  }

  /** Serves GraphQL (`/graphql`) and realtime (`/graphql/realtime`) over plain HTTP; returns the GraphQL URL. */
  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    return this.serveOn(http.createServer(), 'http', port, host);
  }

  /** The same endpoints, handlers and realtime connections over HTTPS and WSS (Amplify opens `wss://` only); returns the GraphQL URL. */
  async listenTls(port: number, host: string, tls: { key: string; cert: string }): Promise<string> {
    return this.serveOn(https.createServer({ key: tls.key, cert: tls.cert }), 'https', port, host);
  }

  private async serveOn(server: http.Server | https.Server, scheme: 'http' | 'https', port: number, host: string): Promise<string> {
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => void this.serve(req, res));
    // What Node's HTTP parser refuses (a body cut short, a malformed request line) gets a 400 in AppSync's shape.
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
      const body = JSON.stringify({ errors: [{ errorType: 'BadRequestException', message: 'The request is not valid HTTP.' }] });
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    // A client that does not trust the certificate ends the handshake: nothing to answer, only to note.
    server.on('tlsClientError', (err: Error) => this.options.logger.log('info', 'appsync.tls_client_error', { error: err.message }));
    if (this.realtime) this.realtime.attach(server as http.Server);
    else this.realtime = new RealtimeServer<CognitoIdentity, AnswerEventRecord>(server as http.Server, { authenticate: (headers) => this.authenticateUserPool(headers.Authorization ?? headers.authorization ?? ''), subscribe: (identity, doc) => this.subscribe(identity, doc), logger: this.options.logger });
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return `${scheme}://${host}:${(server.address() as AddressInfo).port}/graphql`;
  }

  /** The realtime endpoint's URL (`ws://.../graphql/realtime`, `wss://` for HTTPS) for a GraphQL endpoint URL. */
  static realtimeUrl(graphqlUrl: string): string {
    return `${graphqlUrl.replace(/^http/, 'ws')}/realtime`;
  }

  async close(): Promise<void> {
    const servers = this.servers.splice(0);
    if (servers.length === 0) return;
    await this.realtime?.close();
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  private send(res: http.ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(payload));
  }

  /** Every request ends in an answer: whatever fails unexpectedly is a 500 in AppSync's shape, never a crash. */
  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      await this.handle(req, res);
    } catch (err) {
      this.options.logger.log('error', 'appsync.internal_error', { error: err instanceof Error ? err.name : typeof err, message: err instanceof Error ? err.message : undefined });
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      this.send(res, 500, { errors: [{ errorType: 'InternalFailureException', message: 'An internal failure occurred.' }] }, { connection: 'close' });
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = requestPath(req.url);
    if (path === undefined) {
      this.send(res, 400, { errors: [{ errorType: 'BadRequestException', message: 'The request target is not a valid path.' }] }, { connection: 'close' });
      return;
    }
    if (path === '/graphql' && answerCors(req, res)) return;
    if (req.method !== 'POST' || path !== '/graphql') {
      if (this.site && (await this.site(req, res))) return;
      this.send(res, 404, { errors: [{ errorType: 'NotFoundException', message: 'POST /graphql' }] });
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, MAX_GRAPHQL_REQUEST_BYTES);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) {
        // The client went away mid-body (or the socket failed): nobody is left to answer.
        this.options.logger.log('info', 'appsync.body_unread', { error: (err as Error).message });
        req.socket.destroy();
        return;
      }
      // The rest of the body is never read: the connection closes after the answer.
      this.send(res, 413, { errors: [{ errorType: 'PayloadTooLargeException', message: err.message }] }, { connection: 'close' });
      return;
    }
    let caller: Caller;
    try {
      caller = await this.authenticate(req, body);
    } catch (err) {
      const e = err as AuthError | AppSyncError;
      const errorType = e instanceof AuthError ? e.toAwsError({ kind: 'json', version: '1.1', errorPrefix: '' }).code : e.errorType;
      this.send(res, errorType === 'UnauthorizedException' ? 401 : 403, { errors: [{ errorType, message: e.message }] });
      return;
    }
    let request: GraphqlRequest;
    try {
      request = parseGraphqlRequest(body);
    } catch (err) {
      if (!(err instanceof BadGraphqlRequest)) throw err;
      this.send(res, 400, { errors: [{ errorType: err.errorType, message: err.message }] });
      return;
    }
    // A publishAnswer event's status, for faults that hit only some statuses.
    const status = request.variables.status;
    const fault = this.faults.find((f) => f.times > 0 && (!f.statuses || (typeof status === 'string' && f.statuses.includes(status))));
    if (fault) {
      fault.times--;
      this.send(res, fault.status, { errors: [{ errorType: fault.errorType, message: `Injected fault: ${fault.errorType}` }] });
      return;
    }
    this.send(res, 200, await this.executeOperation(caller, request));
  }

  /** A user pool caller, from the JWT in the Authorization header (or a realtime auth header). */
  async authenticateUserPool(token: string, sourceIp = '127.0.0.1'): Promise<CognitoIdentity> {
    if (!this.options.verifyUserPoolToken) throw new AppSyncError('UnauthorizedException', 'This API has no user pool.');
    let claims: Record<string, unknown>;
    try {
      claims = await this.options.verifyUserPoolToken(token.replace(/^Bearer /i, ''));
    } catch (err) {
      this.options.logger.log('info', 'appsync.token_rejected', { reason: (err as Error).name });
      throw new AppSyncError('UnauthorizedException', 'Valid authorization header not provided.');
    }
    const sub = claims.sub;
    const username = claims['cognito:username'] ?? claims.username;
    if (typeof sub !== 'string' || typeof username !== 'string') {
      throw new AppSyncError('UnauthorizedException', 'Valid authorization header not provided.');
    }
    return {
      sub,
      username,
      issuer: String(claims.iss),
      claims,
      sourceIp: [sourceIp],
      groups: Array.isArray(claims['cognito:groups']) ? (claims['cognito:groups'] as string[]) : null,
      defaultAuthStrategy: 'ALLOW',
    };
  }

  private async authenticate(req: http.IncomingMessage, body: Buffer): Promise<Caller> {
    const auth = req.headers.authorization;
    if (!auth) throw new AppSyncError('UnauthorizedException', 'Valid authorization header not provided.');
    if (!auth.startsWith('AWS4-HMAC-SHA256')) {
      return { mode: 'aws_cognito_user_pools', identity: await this.authenticateUserPool(auth, req.socket.remoteAddress ?? '127.0.0.1') };
    }
    const signed = { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body };
    const principal = await authenticateSigned(signed, parseAuthorization(signed), {
      region: this.options.iam.location.region,
      service: 'appsync',
      now: this.options.clock(),
      resolve: (key, token, now) => this.options.iam.resolve(key, token, now),
    });
    return { mode: 'aws_iam', principal };
  }

  /**
   * Field-level auth: the caller's mode must be one the field admits (its directives, else its
   * type's, else the API's default mode); an IAM caller also needs `appsync:GraphQL` on a root field.
   */
  async authorizeField(caller: Caller, typeName: string, field: string, root = true): Promise<boolean> {
    if (!fieldAuthModes(this.schema, typeName, field, this.defaultAuthMode).has(caller.mode)) return false;
    if (caller.mode !== 'aws_iam' || !root) return true;
    const decision = await this.options.evaluator.evaluate({
      principal: caller.principal,
      action: 'appsync:GraphQL',
      resource: `${this.options.apiArn}/types/${typeName}/fields/${field}`,
    });
    return decision.allowed;
  }

  private identityOf(caller: Caller): unknown {
    if (caller.mode === 'aws_cognito_user_pools') return caller.identity;
    const p = caller.principal;
    return { accountId: p.arn.split(':')[4], userArn: p.arn, username: p.userId, sourceIp: ['127.0.0.1'], cognitoIdentityPoolId: null, cognitoIdentityId: null };
  }

  private async dataSource(ds: DataSource, request: unknown): Promise<unknown> {
    if (ds.kind === 'NONE') return (request as { payload?: unknown } | null)?.payload ?? null;
    if (ds.kind === 'HTTP') return this.options.httpDataSource(ds.service, request as HttpDataSourceRequest);
    if (!this.options.dynamodbDataSource) throw new Error('This local AppSync has no DynamoDB data source');
    return this.options.dynamodbDataSource(ds.table, request);
  }

  /**
   * A mutation's response data (its selection set, by response key: mutation-selection.ts) goes to
   * the subscribers of that mutation, and to 'publish' listeners: exactly what AppSync sends.
   */
  private async published(field: string, result: unknown, info: GraphQLResolveInfo): Promise<void> {
    if (field !== 'publishAnswer' || !result) return;
    const event = mutationSelection(this.schema, info, result) as AnswerEventRecord | null;
    if (!event) return;
    // A terminal event is on disk before any subscriber can read it (the twin's crash recovery, not
    // an AWS behaviour): if the write fails, the mutation fails and nothing is delivered.
    const { answerId, status } = result as { answerId?: unknown; status?: unknown };
    if (this.options.deliveryLog && typeof answerId === 'string' && DeliveryLog.isTerminal(status)) await this.options.deliveryLog.record(answerId, status);
    this.options.logger.log('debug', 'appsync.publish', { answerId: event.answerId, status: event.status, seq: event.seq });
    this.events.emit('publish', event);
    this.realtime?.publish(field, event);
  }

  /**
   * A realtime `start`: validates the subscription document, checks the field's auth directive, runs
   * the field's resolver (which may refuse, and sets the enhanced filter), and returns the filter
   * (resolver filter and argument equality, as AppSync applies them) and the projection.
   */
  private async subscribe(identity: CognitoIdentity, doc: { query: string; variables?: Record<string, unknown> | null; operationName?: string | null }) {
    const bad = (message: string) => new AppSyncError('BadRequestException', message);
    // Each ask subscribes anew with the same document: parsed and validated once (validDocument).
    const document = this.validDocument(doc.query);
    if ('invalid' in document) {
      if (document.invalid === 'malformed') throw bad(document.message);
      throw new AppSyncError('ValidationError', document.errors.map((e) => e.message).join('; '));
    }
    const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    if (!operation || operation.operation !== 'subscription') throw bad('Only subscription operations are served here.');
    const selection = operation.selectionSet.selections[0];
    if (operation.selectionSet.selections.length !== 1 || !selection || selection.kind !== Kind.FIELD) throw bad('Subscribe to exactly one field.');
    const fieldName = selection.name.value;
    const field = this.schema.getSubscriptionType()?.getFields()[fieldName];
    const resolver = this.options.resolvers.find((r) => r.definition.typeName === 'Subscription' && r.definition.fieldName === fieldName);
    if (!field || !resolver) throw bad(`No subscription field ${fieldName}.`);
    if (!(await this.authorizeField({ mode: 'aws_cognito_user_pools', identity }, 'Subscription', fieldName))) {
      throw new AppSyncError('Unauthorized', `Not Authorized to access ${fieldName} on type Subscription`);
    }
    const variables = doc.variables ?? {};
    const args: Record<string, unknown> = {};
    for (const arg of selection.arguments ?? []) {
      args[arg.name.value] = valueFromASTUntyped(arg.value, variables);
    }
    const run = await runResolver(resolver, { args, identity, env: this.options.env }, async (request) => (request as { payload?: unknown } | null)?.payload ?? null);
    const subscribeDirective = field.astNode?.directives?.find((d) => d.name.value === 'aws_subscribe');
    const mutationsArg = subscribeDirective?.arguments?.find((a) => a.name.value === 'mutations');
    const mutations = mutationsArg ? (valueFromASTUntyped(mutationsArg.value) as string[]) : [];
    // An argument the filter requires equality on (onAnswer's answerId) indexes the subscription.
    const keyArg = Object.entries(args).find((e): e is [string, string | number] => typeof e[1] === 'string' || typeof e[1] === 'number');
    return {
      fieldName,
      mutations,
      ...(keyArg ? { key: { field: keyArg[0], value: keyArg[1] } } : {}),
      // The projection depends on the document and variables only.
      shape: `${doc.query}\n${JSON.stringify(variables)}`,
      filter: (event: AnswerEventRecord) => {
        const record = event as unknown as Record<string, unknown>;
        const argsMatch = Object.entries(args).every(([k, v]) => v === null || v === undefined || record[k] === v);
        return argsMatch && (!run.subscriptionFilter || matchesFilter(run.subscriptionFilter, record));
      },
      project: (event: AnswerEventRecord) => {
        const result = executeSync({ schema: this.schema, document, rootValue: { [fieldName]: event }, variableValues: variables });
        return (result.data ?? {}) as Record<string, unknown>;
      },
    };
  }

  /**
   * The parsed document of a query that is valid against the schema. Parsing and validation are a
   * pure function of the query text (the schema is fixed), so the valid documents of the last few
   * distinct queries are kept; callers send the same few mutations over and over.
   */
  private validDocument(query: string): DocumentNode | InvalidDocument {
    const cached = this.documents.get(query);
    if (cached) return cached;
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (err) {
      return { invalid: 'malformed', message: (err as Error).message };
    }
    const errors = validate(this.schema, document);
    if (errors.length > 0) return { invalid: 'schema', errors };
    const introspection = this.options.introspection ? [] : introspectionErrors(this.schema, document);
    if (introspection.length > 0) return { invalid: 'schema', errors: introspection };
    if (this.documents.size >= MAX_CACHED_DOCUMENTS) this.documents.delete(this.documents.keys().next().value as string);
    this.documents.set(query, document);
    return document;
  }

  private async executeOperation(caller: Caller, request: GraphqlRequest) {
    const document = this.validDocument(request.query);
    if ('invalid' in document) {
      return document.invalid === 'malformed'
        ? { errors: [{ errorType: 'MalformedHttpRequestException', message: document.message }] }
        : { data: null, errors: document.errors.map((e) => ({ errorType: 'ValidationError', message: e.message, locations: e.locations })) };
    }
    // One operation runs: the only one, or the one operationName names (GraphQL's GetOperation).
    const operation = getOperationAST(document, request.operationName);
    if (!operation) {
      const message = request.operationName
        ? `Unknown operation named "${request.operationName}".`
        : 'Must provide operation name if query contains multiple operations.';
      return { data: null, errors: [{ errorType: 'ValidationError', message }] };
    }
    if (operation.operation === 'subscription') {
      return { errors: [{ errorType: 'UnsupportedOperation', message: 'Subscriptions are served over the realtime WebSocket endpoint.' }] };
    }
    const resolvers = new Map(this.options.resolvers.map((r) => [`${r.definition.typeName}.${r.definition.fieldName}`, r]));
    // Errors resolvers appended (util.appendError): returned beside the data, after the field errors.
    const appended: (AppendedError & { path: readonly (string | number)[] })[] = [];
    const fieldResolver = guardedFieldResolver({
      queryDepthLimit: QUERY_DEPTH_LIMIT,
      resolverCountLimit: RESOLVER_COUNT_LIMIT,
      authorize: (typeName, field, root) => (root && caller.mode === 'aws_iam' ? this.authorizeField(caller, typeName, field, root) : fieldAuthModes(this.schema, typeName, field, this.defaultAuthMode).has(caller.mode)),
      resolver: (typeName, field) => {
        const resolver = resolvers.get(`${typeName}.${field}`);
        if (!resolver) return undefined;
        return async (args, info) => {
          const run = await runResolver(resolver, { args, identity: this.identityOf(caller), env: this.options.env }, (req, ds) => this.dataSource(ds, req));
          for (const e of run.appendedErrors) appended.push({ ...e, path: [info.path.key] });
          if (typeName === 'Mutation') await this.published(field, run.result, info);
          return run.result;
        };
      },
    });
    const result = await execute({
      schema: this.schema,
      document,
      rootValue: {},
      fieldResolver,
      variableValues: request.variables,
      ...(request.operationName ? { operationName: request.operationName } : {}),
    });
    const errors = [
      ...(result.errors ?? []).map((e: GraphQLError) => ({
        errorType:
          e.originalError instanceof AppSyncError || e.originalError instanceof ResolverError || e.originalError instanceof FieldRefused
            ? e.originalError.errorType
            : 'GraphQLError',
        message: e.message,
        path: e.path,
        locations: e.locations,
        ...(e.originalError instanceof ResolverError ? { data: e.originalError.data, errorInfo: e.originalError.errorInfo } : {}),
      })),
      ...appended.map((e) => ({ errorType: e.errorType, message: e.message, path: e.path, data: e.data, errorInfo: e.errorInfo })),
    ];
    return { data: result.data ?? null, ...(errors.length ? { errors } : {}) };
  }
}
