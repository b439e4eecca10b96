/** Lambda entry for the record-failure task (bundled by esbuild in infra/aws). */
import { taskConfigFromEnv } from '../config.ts';
import { createTaskHandler } from '../handlers.ts';

export const handler = createTaskHandler('record-failure', taskConfigFromEnv(), { region: process.env.AWS_REGION ?? '' });
