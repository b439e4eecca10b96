/**
 * The user pool's pre token generation trigger (event version V2_0), as Cognito runs it whenever it
 * issues tokens: it sends the V2_0 event (the user's attributes, the trigger source of the flow, and
 * the client's ClientMetadata where Cognito passes it on: RespondToAuthChallenge, not InitiateAuth),
 * then applies the response's `claimsAndScopeOverrideDetails` to the ID and access tokens:
 *
 * - `claimsToSuppress` removes a claim; a claim both suppressed and added is suppressed;
 * - `claimsToAddOrOverride` adds or replaces a claim, except the claims Cognito does not let the
 *   trigger change (RESERVED below), which keep Cognito's own value whatever the trigger answers;
 * - in the ID token, `email_verified`, `phone_number_verified`, `updated_at` and `address` take no
 *   complex (array or object) value;
 * - a trigger that fails, or answers something that is not a V2_0 response, fails the sign-in with
 *   UserLambdaValidationException ("PreTokenGeneration failed with error …").
 *
 * The trigger is the function AWS runs (tasks/pre-token-generation.ts `handler`), called in this
 * thread with the event and its answer passed through JSON as Lambda passes them.
 */
import * as z from 'zod/mini';
import type { PreTokenTriggerSource } from '../../../../tasks/pre-token-generation.ts';
import { AwsError } from '../../edge/aws-error.ts';

/** The trigger as the pool calls it: a Lambda function's handler. */
export type PreTokenGenerationTrigger = (event: unknown) => Promise<unknown>;

/** Claims the trigger cannot add, override or suppress, in either token. */
const RESERVED = new Set(['acr', 'amr', 'aud', 'at_hash', 'auth_time', 'azp', 'cognito:username', 'exp', 'iat', 'identities', 'iss', 'jti', 'nbf', 'nonce', 'origin_jti', 'sub', 'token_use']);
/** Claims of Cognito's access token that only Cognito writes (scopes change through scopesToAdd/scopesToSuppress, never as a claim). */
const RESERVED_IN_ACCESS = new Set(['client_id', 'scope', 'username', 'cognito:groups', 'device_key', 'event_id', 'version']);
/** ID token claims that take no complex (array or object) value. */
const SCALAR_ONLY_IN_ID = new Set(['email_verified', 'phone_number_verified', 'updated_at', 'address']);

const ClaimValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()])), z.record(z.string(), z.unknown())]);
const TokenGeneration = z.optional(
  z.nullable(
    z.looseObject({
      claimsToAddOrOverride: z.optional(z.nullable(z.record(z.string(), ClaimValue))),
      claimsToSuppress: z.optional(z.nullable(z.array(z.string()))),
    }),
  ),
);
const ResponseSchema = z.looseObject({
  response: z.looseObject({
    claimsAndScopeOverrideDetails: z.optional(
      z.nullable(
        z.looseObject({
          idTokenGeneration: TokenGeneration,
          accessTokenGeneration: TokenGeneration,
        }),
      ),
    ),
  }),
});

export interface PreTokenGenerationRequest {
  triggerSource: PreTokenTriggerSource;
  region: string;
  userPoolId: string;
  clientId: string;
  userName: string;
  userAttributes: Record<string, string>;
  /** The client's ClientMetadata, on the operations that pass it to this trigger. */
  clientMetadata?: Record<string, string>;
}

export interface TokenClaims {
  id: Record<string, unknown>;
  access: Record<string, unknown>;
}

function failed(message: string): AwsError {
  return new AwsError('UserLambdaValidationException', `PreTokenGeneration failed with error ${message}.`, 400);
}

/** The V2_0 event Cognito sends for this request. */
export function preTokenEvent(request: PreTokenGenerationRequest): Record<string, unknown> {
  return {
    version: '2',
    triggerSource: request.triggerSource,
    region: request.region,
    userPoolId: request.userPoolId,
    userName: request.userName,
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: request.clientId },
    request: {
      userAttributes: { ...request.userAttributes },
      groupConfiguration: { groupsToOverride: [], iamRolesToOverride: [], preferredRole: null },
      scopes: ['aws.cognito.signin.user.admin'],
      ...(request.clientMetadata ? { clientMetadata: { ...request.clientMetadata } } : {}),
    },
    response: { claimsAndScopeOverrideDetails: null },
  };
}

function apply(
  claims: Record<string, unknown>,
  generation: z.infer<typeof TokenGeneration>,
  reserved: (name: string) => boolean,
  accepts: (name: string, value: unknown) => boolean,
): Record<string, unknown> {
  if (!generation) return claims;
  const out = { ...claims };
  const suppressed = new Set((generation.claimsToSuppress ?? []).filter((name) => !reserved(name)));
  for (const [name, value] of Object.entries(generation.claimsToAddOrOverride ?? {})) {
    if (!reserved(name) && !suppressed.has(name) && accepts(name, value)) out[name] = value;
  }
  for (const name of suppressed) delete out[name];
  return out;
}

/** Runs the trigger for `request` and applies its answer to the claims Cognito would write. */
export async function customizeClaims(trigger: PreTokenGenerationTrigger, request: PreTokenGenerationRequest, claims: TokenClaims): Promise<TokenClaims> {
  let answer: unknown;
  try {
    // Through JSON both ways, as Lambda passes the event and the function's result.
    answer = JSON.parse(JSON.stringify((await trigger(JSON.parse(JSON.stringify(preTokenEvent(request))))) ?? null)) as unknown;
  } catch (err) {
    throw failed(err instanceof Error ? err.message : String(err));
  }
  const parsed = z.safeParse(ResponseSchema, answer);
  if (!parsed.success) throw failed('Invalid lambda response');
  const details = parsed.data.response.claimsAndScopeOverrideDetails;
  if (!details) return claims;
  const complex = (value: unknown) => typeof value === 'object' && value !== null;
  return {
    id: apply(claims.id, details.idTokenGeneration, (name) => RESERVED.has(name), (name, value) => !(SCALAR_ONLY_IN_ID.has(name) && complex(value))),
    access: apply(claims.access, details.accessTokenGeneration, (name) => RESERVED.has(name) || RESERVED_IN_ACCESS.has(name), () => true),
  };
}
