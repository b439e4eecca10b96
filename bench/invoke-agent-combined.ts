/**
 * The invoke-agent Lambda entry as it was before the split per agent runtime: both runtimes' adapters,
 * and so both Bedrock clients, in one bundle, the runtime chosen by AGENT_RUNTIME at load. Not
 * deployed: `npm run bench -- bundles` measures it as the baseline beside the two entries of
 * tasks/lambda/ that replaced it.
 */
import type { AgentRuntimeFactory } from '../tasks/agent-runtime.ts';
import { bedrockAgentRuntime } from '../tasks/agent-runtime-bedrock-agent.ts';
import { converseRuntime } from '../tasks/agent-runtime-converse.ts';
import { taskConfigFromEnv, type AgentRuntimeKind } from '../tasks/config.ts';
import { wrapTask } from '../tasks/handler.ts';
import { invokeAgentModule } from '../tasks/invoke-agent.ts';

const RUNTIMES: Record<AgentRuntimeKind, AgentRuntimeFactory> = { converse: converseRuntime, 'bedrock-agent': bedrockAgentRuntime };
const config = taskConfigFromEnv();

export const handler = wrapTask('invoke-agent', invokeAgentModule(RUNTIMES[config.agentRuntime]), config, { region: process.env.AWS_REGION ?? '' });
