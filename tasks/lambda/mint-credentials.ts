/** Lambda entry for the mint-credentials task (bundled by esbuild in infra/aws): only this task's code. */
import { taskConfigFromEnv } from '../config.ts';
import { wrapTask } from '../handler.ts';
import { mintCredentials, mintCredentialsDeps } from '../mint-credentials.ts';

export const handler = wrapTask('mint-credentials', { run: mintCredentials, deps: mintCredentialsDeps }, taskConfigFromEnv(), { region: process.env.AWS_REGION ?? '' });
