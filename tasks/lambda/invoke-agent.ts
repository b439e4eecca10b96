/** Lambda entry for the invoke-agent task (bundled by esbuild in infra/aws): only this task's code. */
import { taskConfigFromEnv } from '../config.ts';
import { wrapTask } from '../handler.ts';
import { invokeAgent, invokeAgentDeps } from '../invoke-agent.ts';

export const handler = wrapTask('invoke-agent', { run: invokeAgent, deps: invokeAgentDeps }, taskConfigFromEnv(), { region: process.env.AWS_REGION ?? '' });
