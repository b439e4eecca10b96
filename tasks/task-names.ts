/** The tasks of the workflow: one Lambda function each, each running as its own IAM role. */
export const TASK_NAMES = [
  'validate-context',
  'mint-credentials',
  'invoke-agent',
  'publish-answer',
  'record-failure',
] as const;
export type TaskName = (typeof TASK_NAMES)[number];
