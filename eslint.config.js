// Lint guards the boundaries of ../shared/ARCHITECTURE.md: nothing imports infra/, states/ holds
// no AWS SDK, the AGPL policy simulator stays in infra/local, tasks/ (the Lambda code) uses zod/mini,
// and client/ imports no workflow code (its types mirror the API schema).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import appsync from '@aws-appsync/eslint-plugin';

const noInfra = { group: ['**/infra/**', '../infra/*', '../../infra/*'], message: 'Nothing outside infra/ imports infra/.' };
const noSimulator = { group: ['@cloud-copilot/*'], message: 'The AGPL policy simulator stays in infra/local.' };
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
  // Resolvers run in AppSync's APPSYNC_JS runtime: its restrictions, checked with type information.
  {
    ...appsync.configs.recommended,
    files: ['resolvers/**/*.ts'],
    languageOptions: { ...appsync.configs.recommended.languageOptions, parserOptions: { projectService: true } },
  },
  {
    files: ['resolvers/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(?!@aws-appsync/utils$)', message: 'Resolvers import only @aws-appsync/utils.' }] }],
    },
  },
);
