/**
 * The user pool's password policy: one source, read by the CDK pool (infra/aws/identity.ts) and by
 * the local user pool (infra/local/services/cognito), so that both refuse the same passwords and
 * let temporary passwords live the same number of days.
 */
export const USER_POOL_PASSWORD_POLICY = {
  minLength: 12,
  requireLowercase: true,
  requireUppercase: true,
  requireDigits: true,
  requireSymbols: true,
  /** Cognito's TemporaryPasswordValidityDays: an administrator must reset a temporary password not used in time. */
  temporaryPasswordValidityDays: 7,
} as const;
