/** The stack's name when `-c stackName=...` is not given: `npm run deploy` deploys it, the README names it. */
export const DEFAULT_STACK_NAME = 'MultiTenantAiAssistant';
