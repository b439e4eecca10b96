/**
 * The CDK app (`cdk.json`): `npx cdk synth|deploy|destroy`, or `npm run synth|deploy|destroy`.
 * Context: `-c agentRuntime=bedrock-agent` for accounts that can still create Agents Classic agents
 * (default `converse`); `-c modelId=<id>` a model or inference profile id of tasks/models.ts (default:
 * Claude Haiku 4.5 through the inference profile of the deploy Region's geography); `-c removalPolicy=destroy`
 * to delete data with the stack (default: retain); `-c deployment=<label>` puts a label in the names of
 * what `cdk destroy` retains (tables, state machine log group), to deploy again beside them;
 * `-c introspection=true` lets the GraphQL API answer
 * introspection queries, for a development stack only (default: disabled).
 */
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AGENT_RUNTIMES, type AgentRuntimeKind } from '../../tasks/config.ts';
import { MultiTenantAiAssistantStack } from './stack.ts';
import { DEFAULT_STACK_NAME } from './stack-name.ts';

const app = new App();
const runtime = (app.node.tryGetContext('agentRuntime') as string | undefined) ?? 'converse';
if (!(AGENT_RUNTIMES as readonly string[]).includes(runtime)) {
  throw new Error(`Context agentRuntime must be one of ${AGENT_RUNTIMES.join(', ')}, got ${runtime}`);
}
const removal = app.node.tryGetContext('removalPolicy') === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
const introspection = String(app.node.tryGetContext('introspection') ?? 'false');
if (introspection !== 'true' && introspection !== 'false') throw new Error(`Context introspection must be true or false, got ${introspection}`);

new MultiTenantAiAssistantStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? DEFAULT_STACK_NAME, {
  agentRuntime: runtime as AgentRuntimeKind,
  removalPolicy: removal,
  ...(app.node.tryGetContext('deployment') ? { deployment: String(app.node.tryGetContext('deployment')) } : {}),
  ...(app.node.tryGetContext('modelId') ? { modelId: String(app.node.tryGetContext('modelId')) } : {}),
  introspection: introspection === 'true',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
