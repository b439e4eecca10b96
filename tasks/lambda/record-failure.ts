/** Lambda entry for the record-failure task (bundled by esbuild in infra/aws): only this task's code. */
import { taskConfigFromEnv } from '../config.ts';
import { wrapTask } from '../handler.ts';
import { recordFailure, recordFailureDeps } from '../record-failure.ts';

export const handler = wrapTask('record-failure', { run: recordFailure, deps: recordFailureDeps }, taskConfigFromEnv(), { region: process.env.AWS_REGION ?? '' });
