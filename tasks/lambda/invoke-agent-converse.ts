/**
 * Lambda entry for the invoke-agent task of a `converse` deployment (bundled by esbuild in infra/aws):
 * only this task's code, with the converse runtime's Bedrock client and not the other's.
 */
import { converseRuntime } from '../agent-runtime-converse.ts';
import { taskConfigFromEnv } from '../config.ts';
import { wrapTask } from '../handler.ts';
import { invokeAgentModule } from '../invoke-agent.ts';

export const handler = wrapTask('invoke-agent', invokeAgentModule(converseRuntime), taskConfigFromEnv(), { region: process.env.AWS_REGION ?? '' });
