/**
 * Lambda entry for the invoke-agent task of a `bedrock-agent` deployment (bundled by esbuild in infra/aws):
 * only this task's code, with the bedrock-agent runtime's Bedrock client and not the other's.
 */
import { bedrockAgentRuntime } from '../agent-runtime-bedrock-agent.ts';
import { taskConfigFromEnv } from '../config.ts';
import { wrapTask } from '../handler.ts';
import { invokeAgentModule } from '../invoke-agent.ts';

export const handler = wrapTask('invoke-agent', invokeAgentModule(bedrockAgentRuntime), taskConfigFromEnv(), { region: process.env.AWS_REGION ?? '' });
