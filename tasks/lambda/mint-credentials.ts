/** Lambda entry for the mint-credentials task (bundled by esbuild in infra/aws). */
import { taskConfigFromEnv } from '../config.ts';
import { createTaskHandler } from '../handlers.ts';

export const handler = createTaskHandler('mint-credentials', taskConfigFromEnv(), { region: process.env.AWS_REGION ?? '' });
