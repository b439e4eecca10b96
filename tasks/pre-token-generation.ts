/**
 * The user pool's pre token generation trigger, event version V2_0: puts the user's tenant in the
 * ACCESS token too, under the claim the ID token already carries (`custom:tenantId`), so that the
 * resolvers read the same claim whichever token the client sends (the Amplify client sends the
 * access token). Cognito puts a readable custom attribute in the ID token by itself; it never puts
 * user attributes in the access token, hence this trigger (V2_0 needs the Essentials or Plus
 * feature plan: infra/aws/identity.ts).
 *
 * The value comes from `request.userAttributes['custom:tenantId']` only: the immutable attribute
 * that only the operator writes. Never from `clientMetadata` (whatever the client sends with its
 * sign-in) nor from any other part of the event. A user without the attribute gets no claim: the
 * access token then authenticates, but Mutation.ask refuses it (no tenant), exactly as it refuses
 * an ID token without the attribute. Failing the sign-in instead would also lock that user out of
 * their own account operations (GetUser), for no gain in isolation.
 *
 * The same function runs on AWS (the Lambda entry `handler` below, bundled by infra/aws/identity.ts)
 * and in the local user pool (infra/local/services/cognito/pre-token-generation.ts).
 */
import * as z from 'zod/mini';
import './zod-locale.ts';

/** The tenant claim, in both tokens: the custom attribute's name, as Cognito writes it in ID tokens. */
export const TENANT_CLAIM = 'custom:tenantId';

/** Where Cognito invokes the trigger from (the V2_0 event's triggerSource). */
export const PRE_TOKEN_TRIGGER_SOURCES = [
  'TokenGeneration_HostedAuth',
  'TokenGeneration_Authentication',
  'TokenGeneration_NewPasswordChallenge',
  'TokenGeneration_AuthenticateDevice',
  'TokenGeneration_RefreshTokens',
] as const;
export type PreTokenTriggerSource = (typeof PRE_TOKEN_TRIGGER_SOURCES)[number];

/** The V2_0 event, as far as this trigger reads it; the rest passes through untouched. */
export const PreTokenGenerationEventSchema = z.looseObject({
  version: z.literal('2'),
  triggerSource: z.enum(PRE_TOKEN_TRIGGER_SOURCES),
  userPoolId: z.string(),
  userName: z.string(),
  request: z.looseObject({
    userAttributes: z.record(z.string(), z.string()),
    clientMetadata: z.optional(z.record(z.string(), z.string())),
  }),
});
export type PreTokenGenerationEvent = z.infer<typeof PreTokenGenerationEventSchema>;

type ClaimValue = string | number | boolean | readonly (string | number | boolean)[] | Record<string, unknown>;

/** The V2_0 response (`response.claimsAndScopeOverrideDetails`). */
export interface ClaimsAndScopeOverrideDetails {
  idTokenGeneration?: { claimsToAddOrOverride?: Record<string, ClaimValue>; claimsToSuppress?: string[] };
  accessTokenGeneration?: {
    claimsToAddOrOverride?: Record<string, ClaimValue>;
    claimsToSuppress?: string[];
    scopesToAdd?: string[];
    scopesToSuppress?: string[];
  };
}

/** The event Cognito sent, answered: the tenant claim added to the access token when the user has the attribute. */
export function preTokenGeneration(input: unknown): PreTokenGenerationEvent & { response: { claimsAndScopeOverrideDetails: ClaimsAndScopeOverrideDetails | null } } {
  const event = z.parse(PreTokenGenerationEventSchema, input);
  const tenantId = event.request.userAttributes[TENANT_CLAIM];
  const claimsAndScopeOverrideDetails: ClaimsAndScopeOverrideDetails | null = tenantId ? { accessTokenGeneration: { claimsToAddOrOverride: { [TENANT_CLAIM]: tenantId } } } : null;
  return { ...event, response: { claimsAndScopeOverrideDetails } };
}

/** The Lambda entry. Logs nothing: the event holds the user's attributes. */
export const handler = (event: unknown) => Promise.resolve(preTokenGeneration(event));
