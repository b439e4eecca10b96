/**
 * The API's schema as the local AppSync serves it (resolvers/schema.graphql with AppSync's built-in
 * directives and scalars), and which authorization modes may reach a field.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSchema, type GraphQLSchema } from 'graphql';

export const SCHEMA_FILE = fileURLToPath(new URL('../../../../resolvers/schema.graphql', import.meta.url));

/** AppSync's built-in directives and scalars, which its schemas use without declaring. */
const APPSYNC_PRELUDE = `
directive @aws_iam on OBJECT | FIELD_DEFINITION
directive @aws_cognito_user_pools(cognito_groups: [String]) on OBJECT | FIELD_DEFINITION
directive @aws_api_key on OBJECT | FIELD_DEFINITION
directive @aws_oidc on OBJECT | FIELD_DEFINITION
directive @aws_lambda on OBJECT | FIELD_DEFINITION
directive @aws_subscribe(mutations: [String]) on FIELD_DEFINITION
scalar AWSDate
scalar AWSTime
scalar AWSDateTime
scalar AWSTimestamp
scalar AWSEmail
scalar AWSJSON
scalar AWSURL
scalar AWSPhone
scalar AWSIPAddress
`;

/** The authorization directives, by the name of the mode each one admits. */
const AUTH_DIRECTIVES = new Set(['aws_iam', 'aws_cognito_user_pools', 'aws_api_key', 'aws_oidc', 'aws_lambda']);

export type AuthMode = 'aws_iam' | 'aws_cognito_user_pools' | 'aws_api_key' | 'aws_oidc' | 'aws_lambda';

export function loadSchema(source = readFileSync(SCHEMA_FILE, 'utf8')): GraphQLSchema {
  return buildSchema(APPSYNC_PRELUDE + source);
}

type WithDirectives = { astNode?: { directives?: readonly { name: { value: string } }[] } | null | undefined } | undefined;

function authDirectives(node: WithDirectives): Set<string> {
  return new Set((node?.astNode?.directives ?? []).map((d) => d.name.value).filter((name) => AUTH_DIRECTIVES.has(name)));
}

/**
 * The modes that may reach `typeName.fieldName`, as AppSync decides them: the field's own auth
 * directives; without any, its type's; without either, the API's default mode only.
 * https://docs.aws.amazon.com/appsync/latest/devguide/security-authz.html
 */
export function fieldAuthModes(schema: GraphQLSchema, typeName: string, fieldName: string, defaultMode: AuthMode): Set<string> {
  const type = schema.getType(typeName);
  const field = type && 'getFields' in type ? (type.getFields() as Record<string, WithDirectives>)[fieldName] : undefined;
  const own = authDirectives(field);
  if (own.size > 0) return own;
  const inherited = authDirectives(type as WithDirectives);
  return inherited.size > 0 ? inherited : new Set([defaultMode]);
}
