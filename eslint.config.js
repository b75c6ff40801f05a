// Lint: type-aware rules against floating promises and unused code, and the package boundaries of docs/CONTRACTS.md
// (bullmq only in packages/queue, onnxruntime-node only in packages/engine, process.env only in packages/cli,
// packages/core/src/config.ts and the role entry points packages/*/src/bin.ts). `npm run lint`; `npm test` runs it.
import tseslint from 'typescript-eslint';

const importBan = (name, where) => ({ name, message: `only ${where} imports ${name} (docs/CONTRACTS.md)` });
const envBan = {
  selector: "MemberExpression[object.name='process'][property.name='env']",
  message: 'packages never read process.env: config arrives as arguments (only packages/cli, packages/core/src/config.ts and packages/*/src/bin.ts read it)',
};

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'packages/gateway/public/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // node:test's test() returns a promise the runner awaits
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'after-used', argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      'no-unused-labels': 'error',
      'no-unreachable': 'error',
    },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/queue/src/**', 'packages/engine/src/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [importBan('bullmq', 'packages/queue'), importBan('onnxruntime-node', 'packages/engine')] }] },
  },
  {
    files: ['packages/queue/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [importBan('onnxruntime-node', 'packages/engine')] }] },
  },
  {
    files: ['packages/engine/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [importBan('bullmq', 'packages/queue')] }] },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    // testkit starts processes for tests and hands them an environment; it is no part of a deployed role
    ignores: ['packages/cli/src/**', 'packages/core/src/config.ts', 'packages/*/src/bin.ts', 'packages/testkit/src/**'],
    rules: { 'no-restricted-syntax': ['error', envBan] },
  },
);
