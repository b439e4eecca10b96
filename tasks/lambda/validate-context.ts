/** Lambda entry for the validate-context task (bundled by esbuild in infra/aws): only this task's code. */
import { taskConfigFromEnv } from '../config.ts';
import { wrapTask } from '../handler.ts';
import { validateContext, validateContextDeps } from '../validate-context.ts';

export const handler = wrapTask('validate-context', { run: validateContext, deps: validateContextDeps }, taskConfigFromEnv(), { region: process.env.AWS_REGION ?? '' });
