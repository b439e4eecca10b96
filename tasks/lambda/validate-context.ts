/** Lambda entry for the validate-context task (bundled by esbuild in infra/aws). */
import { taskConfigFromEnv } from '../config.ts';
import { createTaskHandler } from '../handlers.ts';

export const handler = createTaskHandler('validate-context', taskConfigFromEnv(), { region: process.env.AWS_REGION ?? '' });
