/** Where a deployment lives; the local stack uses the LocalStack-style account 000000000000. */
export interface AwsLocation {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
}
