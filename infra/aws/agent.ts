/**
 * Agent: for the `bedrock-agent` runtime, a Bedrock agent (Agents Classic, L1) whose instruction
 * and function schema come from tasks/agent-definition.ts, with a return-of-control action group
 * (the invoke-agent task runs the tools with the tenant-scoped credentials) and an alias. For the
 * `converse` runtime, no agent: the invoke-agent task calls Converse on the model directly.
 */
import { createHash } from 'node:crypto';
import { Aws, Stack } from 'aws-cdk-lib';
import * as bedrock from 'aws-cdk-lib/aws-bedrock';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ACTION_GROUP, AGENT_IDLE_SESSION_TTL_SECONDS, AGENT_INSTRUCTION, AGENT_NAME, bedrockFunctionSchema } from '../../tasks/agent-definition.ts';
import type { AgentRuntimeKind } from '../../tasks/config.ts';
import { modelInvokeStatement } from '../../tasks/policies.ts';

export interface AgentProps {
  readonly runtime: AgentRuntimeKind;
  /** Foundation model id (or inference profile id) the agent or Converse uses. */
  readonly modelId: string;
  /** Prefix for the agent's name, so that several deployments can share an account. */
  readonly namePrefix: string;
  /** The agent's instruction. @default AGENT_INSTRUCTION (tasks/agent-definition.ts) */
  readonly instruction?: string;
}

/** What the invoke-agent task is given to reach the model: the agent and its alias, or none. */
interface AgentResources {
  readonly agentId: string;
  readonly agentAliasId: string;
  readonly agentAliasArn: string;
}

/**
 * The resources each runtime needs, keyed by kind: a new runtime cannot compile into another's
 * resources. `converse` needs none: the task calls Converse on the model itself.
 */
const RUNTIME_RESOURCES: Record<AgentRuntimeKind, (scope: Construct, props: AgentProps) => AgentResources> = {
  converse: () => ({ agentId: '', agentAliasId: '', agentAliasArn: '' }),
  'bedrock-agent': (scope, props) => {
    const stack = Stack.of(scope);
    const location = { partition: Aws.PARTITION, region: Aws.REGION, accountId: Aws.ACCOUNT_ID };
    const role = new iam.Role(scope, 'AgentRole', {
      assumedBy: new iam.ServicePrincipal('bedrock.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'The Bedrock agent: invokes its model (or inference profile) only',
      inlinePolicies: {
        InvokeModel: new iam.PolicyDocument({ statements: [iam.PolicyStatement.fromJson(modelInvokeStatement('InvokeTheModel', props.modelId, location))] }),
      },
    });

    const definition = {
      foundationModel: props.modelId,
      instruction: props.instruction ?? AGENT_INSTRUCTION,
      idleSessionTtlInSeconds: AGENT_IDLE_SESSION_TTL_SECONDS,
      actionGroups: [
        {
          actionGroupName: ACTION_GROUP,
          actionGroupExecutor: { customControl: 'RETURN_CONTROL' },
          functionSchema: bedrockFunctionSchema(),
        },
      ],
    };
    const agent = new bedrock.CfnAgent(scope, 'Agent', {
      agentName: `${props.namePrefix}${AGENT_NAME}`,
      agentResourceRoleArn: role.roleArn,
      autoPrepare: true,
      ...definition,
    });
    // The alias follows the agent: its description names a hash of the agent's definition, so a new
    // model or instruction changes the description and CloudFormation updates the alias; an
    // UpdateAgentAlias without routingConfiguration makes Bedrock create a new version from the
    // (auto-prepared) draft and route the alias to it. The alias id stays the same.
    const alias = new bedrock.CfnAgentAlias(scope, 'Alias', {
      agentId: agent.attrAgentId,
      agentAliasName: 'live',
      description: `Routes to the version of agent definition ${agentDefinitionHash(stack.resolve(definition))}`,
    });
    return { agentId: agent.attrAgentId, agentAliasId: alias.attrAgentAliasId, agentAliasArn: alias.attrAgentAliasArn };
  },
};

/**
 * A short, stable hash of the agent's definition as synthesized (the model id is a synth-time
 * value, `-c modelId`; a token would hash as its reference).
 */
export function agentDefinitionHash(definition: unknown): string {
  return createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 16);
}

export class Agent extends Construct {
  /** Empty for the `converse` runtime. */
  readonly agentId: string;
  readonly agentAliasId: string;
  /** What the invoke-agent role may call InvokeAgent on (`bedrock-agent`); empty for `converse`, whose role may not call InvokeAgent at all. */
  readonly agentAliasArn: string;

  constructor(scope: Construct, id: string, props: AgentProps) {
    super(scope, id);
    const resources = RUNTIME_RESOURCES[props.runtime](this, props);
    this.agentId = resources.agentId;
    this.agentAliasId = resources.agentAliasId;
    this.agentAliasArn = resources.agentAliasArn;
  }
}
