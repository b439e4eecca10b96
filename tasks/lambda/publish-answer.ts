/** Lambda entry for the publish-answer task (bundled by esbuild in infra/aws): only this task's code. */
import { taskConfigFromEnv } from '../config.ts';
import { wrapTask } from '../handler.ts';
import { publishAnswer, publishAnswerDeps } from '../publish-answer.ts';

export const handler = wrapTask('publish-answer', { run: publishAnswer, deps: publishAnswerDeps }, taskConfigFromEnv(), { region: process.env.AWS_REGION ?? '' });
