/** The tasks of the workflow: one Lambda function each, each running as its own IAM role. */
export const TASK_NAMES = [
  'validate-context',
  'mint-credentials',
  'invoke-agent',
  'publish-answer',
  'record-failure',
] as const;
export type TaskName = (typeof TASK_NAMES)[number];

/**
 * Each function's Lambda timeout (seconds): CDK configures the functions with it, and the local
 * Lambda runtime ends an invocation that runs longer, with Lambda's timeout error. It is below the
 * TimeoutSeconds of the function's states (states/definition.ts), so that Lambda's own timeout, which
 * names the function's fault, fires before the state's States.Timeout.
 */
export const FUNCTION_TIMEOUT_SECONDS: Readonly<Record<TaskName, number>> = {
  'validate-context': 8,
  'mint-credentials': 8,
  'invoke-agent': 110,
  'publish-answer': 8,
  'record-failure': 8,
};
