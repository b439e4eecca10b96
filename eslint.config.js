// Lint guards the boundaries of ../shared/ARCHITECTURE.md: nothing imports infra/, states/ holds
// no AWS SDK, the AGPL policy simulator stays in infra/local/iam, tasks/ (the Lambda code) uses
// zod/mini, client/ imports no workflow code (its types mirror the API schema), the local stand-ins
// keep to their rooms (a service reaches another only through the edge), and no import cycles.
// test/architecture.test.ts checks what lint cannot: type-only cycles and file sizes.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import appsync from '@aws-appsync/eslint-plugin';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

const noInfra = { group: ['**/infra/**', '../infra/*', '../../infra/*'], message: 'Nothing outside infra/ imports infra/.' };
const noSimulator = { group: ['@cloud-copilot/*'], message: 'The AGPL policy simulator stays in infra/local/iam.' };
const noLocalCli = { group: ['**/infra/local/cli/**', '../cli/*', '../../cli/*'], message: 'infra/local/cli/ holds developer tools: nothing imports them.' };
/** A stand-in reaches another service only over the wire, through the edge, as AWS services do. */
const otherServices = (own) => ({
  regex: `^(\\.\\./(?!\\.\\./|${own}/)[^/]+/|\\.\\./\\.\\./services/)`,
  message: 'A service room does not import another service: call it through the edge, or move the shared piece to edge/ or iam/.',
});
const classicZod = ['zod', 'zod/v4', 'zod/v3'].map((name) => ({ name, message: "Task code runs in the Lambda bundles: import 'zod/mini' (classic zod and its locales are ~440 KB)." }));
const clientOwnTypes = {
  group: ['**/tasks/**', '**/states/**', '**/resolvers/**'],
  message: 'client/ depends on the API schema only (ARCHITECTURE.md): keep its own copy of a type, checked in test/client-schema.test.ts.',
};
const focusedOrSkipped = {
  selector: "MemberExpression[object.name=/^(it|test|describe|suite)$/][property.name=/^(only|skip|todo)$/]",
  message: 'No focused or skipped tests.',
};

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.data/', 'dist/', '**/dist/', 'coverage/', 'test-output/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', performance: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', focusedOrSkipped],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  // No import cycles (value imports; test/architecture.test.ts also catches type-only ones).
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.mjs'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx', '.mjs', '.js'] })] },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    files: ['tasks/**', 'states/**', 'resolvers/**', 'client/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noInfra, noSimulator] }] },
  },
  {
    files: ['tasks/**'],
    rules: { 'no-restricted-imports': ['error', { paths: classicZod, patterns: [noInfra, noSimulator] }] },
  },
  {
    files: ['client/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noInfra, noSimulator, clientOwnTypes] }] },
  },
  {
    files: ['states/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [noInfra, noSimulator, { group: ['@aws-sdk/*'], message: 'states/ is data: no AWS SDK.' }] }],
    },
  },
  // The unit layer runs the real definition on the local Step Functions stand-in (states/workflow.test.ts),
  // so the tests beside it, and only they, may import infra/local; the runtime code in states/ stays data.
  {
    files: ['states/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noSimulator,
            { group: ['@aws-sdk/*'], message: 'states/ is data: no AWS SDK.' },
            { regex: '(^|/)infra/(?!local/)', message: 'states/ tests may import the local stand-ins (infra/local) only.' },
          ],
        },
      ],
    },
  },
  {
    files: ['infra/aws/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noSimulator, { group: ['**/infra/local/**', '../local/*'], message: 'infra/aws never imports the local stand-ins.' }] }] },
  },
  // The local twin's rooms: the edge and the CLIs know no service; IAM is the only room with the
  // simulator; each service room imports edge/ and iam/, never another service room.
  {
    files: ['infra/local/edge/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noSimulator, noLocalCli, { group: ['../services/**', '../stack.ts', '../main.ts'], message: 'edge/ knows no service: services plug into it.' }] }] },
  },
  {
    files: ['infra/local/*.ts', 'infra/local/cli/**', 'infra/local/services/**'],
    ignores: ['infra/local/services/*/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noSimulator, noLocalCli] }] },
  },
  ...['dynamodb', 'sts', 'kms', 'logs', 'cognito', 'bedrock', 'stepfunctions', 'appsync', 'lambda'].map((own) => ({
    files: [`infra/local/services/${own}/**`],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noSimulator, noLocalCli, otherServices(own)] }] },
  })),
  // Resolvers run in AppSync's APPSYNC_JS runtime: its restrictions, checked with type information;
  // also on the two task modules esbuild bundles into them (plans and usage keys).
  {
    ...appsync.configs.recommended,
    files: ['resolvers/**/*.ts', 'tasks/plans.ts', 'tasks/usage.ts'],
    languageOptions: { ...appsync.configs.recommended.languageOptions, parserOptions: { projectService: true } },
  },
  {
    files: ['resolvers/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@aws-appsync/utils$|\\./(ask/)?admission\\.ts$|(\\.\\./)+tasks/(plans|usage)\\.ts$)',
              message: 'Resolvers import only @aws-appsync/utils, resolvers/ask/admission.ts, and tasks/plans.ts and tasks/usage.ts (bundled, APPSYNC_JS-linted).',
            },
          ],
        },
      ],
    },
  },
);
