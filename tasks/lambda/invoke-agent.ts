/** Lambda entry for the invoke-agent task (bundled by esbuild in infra/aws). */
import { taskConfigFromEnv } from '../config.ts';
import { createTaskHandler } from '../handlers.ts';

export const handler = createTaskHandler('invoke-agent', taskConfigFromEnv(), { region: process.env.AWS_REGION ?? '' });
