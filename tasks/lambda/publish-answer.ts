/** Lambda entry for the publish-answer task (bundled by esbuild in infra/aws). */
import { taskConfigFromEnv } from '../config.ts';
import { createTaskHandler } from '../handlers.ts';

export const handler = createTaskHandler('publish-answer', taskConfigFromEnv(), { region: process.env.AWS_REGION ?? '' });
