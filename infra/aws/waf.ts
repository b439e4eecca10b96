/**
 * An AWS WAF web ACL in front of the GraphQL API: a second line against a flood from one address
 * (the first is admission, Mutation.ask's pipeline, per user and per tenant). AWS WAF evaluates its
 * rules before AppSync's own authorisation, so a blocked request costs no resolver, no token check
 * and no quota (https://docs.aws.amazon.com/appsync/latest/devguide/WAF-Integration.html).
 * One rate-based rule: more than `requestsPerFiveMinutes` requests from one source IP in a trailing
 * 5-minute window are blocked until the rate falls; everything else is allowed.
 */
import { aws_wafv2 as wafv2 } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface ApiFirewallProps {
  /** The GraphQL API's ARN (the association's resource). */
  readonly graphqlApiArn: string;
  /** A name for the web ACL and its metrics. */
  readonly name: string;
  /**
   * Requests one source IP may send in a trailing 5-minute window before it is blocked.
   * @default 1000
   */
  readonly requestsPerFiveMinutes?: number;
}

/** The default rate: far above what one person asks (a premium user's burst span is 150 questions), well below a flood. */
export const DEFAULT_REQUESTS_PER_FIVE_MINUTES = 1000;

export class ApiFirewall extends Construct {
  readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: ApiFirewallProps) {
    super(scope, id);
    const metric = (name: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: name });
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name: props.name,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: metric(`${props.name}-acl`),
      rules: [
        {
          name: 'RatePerSourceIp',
          priority: 0,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: props.requestsPerFiveMinutes ?? DEFAULT_REQUESTS_PER_FIVE_MINUTES,
              evaluationWindowSec: 300,
              aggregateKeyType: 'IP',
            },
          },
          visibilityConfig: metric(`${props.name}-rate-per-ip`),
        },
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'Association', { resourceArn: props.graphqlApiArn, webAclArn: this.webAcl.attrArn });
  }
}
