// @ts-check
import nx from '@nx/eslint-plugin';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import jestPlugin from 'eslint-plugin-jest';
import prettier from 'eslint-config-prettier';

const frameworks = [
  '@nestjs/*',
  'typeorm',
  'typeorm-*',
  'pg',
  'amqplib',
  'socket.io',
  'socket.io-client',
  'express',
  '@electric-sql/*',
];

// What a browser client must never pull in (socket.io-client is its one runtime dependency).
const serverOnly = frameworks.filter((name) => name !== 'socket.io-client');

const nodeBuiltins = [
  'node:*',
  'assert',
  'buffer',
  'child_process',
  'crypto',
  'events',
  'fs',
  'http',
  'https',
  'net',
  'os',
  'path',
  'stream',
  'timers',
  'url',
  'util',
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/tmp/**',
      '**/.nx/**',
      '**/data/**',
      '**/coverage/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          banTransitiveDependencies: false,
          depConstraints: [
            {
              sourceTag: 'type:app',
              onlyDependOnLibsWithTags: [
                'type:feature',
                'type:infra',
                'type:domain',
                'type:client',
              ],
            },
            { sourceTag: 'type:feature', onlyDependOnLibsWithTags: ['type:infra', 'type:domain'] },
            { sourceTag: 'type:infra', onlyDependOnLibsWithTags: ['type:infra', 'type:domain'] },
            {
              sourceTag: 'type:domain',
              onlyDependOnLibsWithTags: ['type:domain'],
              bannedExternalImports: frameworks,
            },
            {
              sourceTag: 'type:testing',
              onlyDependOnLibsWithTags: [
                'type:feature',
                'type:infra',
                'type:domain',
                'type:client',
              ],
            },
            {
              // The client runs in browsers: the domain's view types only (see the block below).
              sourceTag: 'type:client',
              onlyDependOnLibsWithTags: ['type:domain'],
              bannedExternalImports: serverOnly,
            },
            {
              sourceTag: 'scope:master',
              onlyDependOnLibsWithTags: ['scope:master', 'scope:shared'],
            },
            { sourceTag: 'scope:slave', onlyDependOnLibsWithTags: ['scope:slave', 'scope:shared'] },
          ],
        },
      ],
    },
  },
  {
    // Decorated NestJS classes need their constructor parameter types as values at run time.
    files: ['apps/**/*.ts', 'libs/server/**/*.ts'],
    rules: { '@typescript-eslint/consistent-type-imports': 'off' },
  },
  {
    // libs/client runs in browsers: no Node built-ins, and the server's domain for types only.
    files: ['libs/client/src/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@chat/domain',
              allowTypeImports: true,
              message: 'The client may import the domain for its types only (import type).',
            },
          ],
          patterns: [{ group: nodeBuiltins, message: 'The client runs in browsers.' }],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...[
          'process',
          'Buffer',
          'global',
          '__dirname',
          '__filename',
          'require',
          'setImmediate',
        ].map((name) => ({ name, message: 'The client runs in browsers.' })),
      ],
    },
  },
  {
    // tools/chaos and tools/bench are test code throughout: suites and the helpers only they use.
    files: [
      '**/*.spec.ts',
      '**/*.int-spec.ts',
      '**/*.e2e-spec.ts',
      '**/*.chaos-spec.ts',
      'tools/chaos/src/**/*.ts',
      'tools/bench/src/**/*.ts',
    ],
    ...jestPlugin.configs['flat/recommended'],
    rules: {
      ...jestPlugin.configs['flat/recommended'].rules,
      'jest/no-focused-tests': 'error',
      // Tests may use the shared test helpers; production code may not (see the main block).
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          depConstraints: [
            {
              sourceTag: 'type:app',
              onlyDependOnLibsWithTags: [
                'type:feature',
                'type:infra',
                'type:domain',
                'type:testing',
                'type:client',
              ],
            },
            {
              sourceTag: 'type:feature',
              onlyDependOnLibsWithTags: ['type:infra', 'type:domain', 'type:testing'],
            },
            {
              sourceTag: 'type:infra',
              onlyDependOnLibsWithTags: ['type:infra', 'type:domain', 'type:testing'],
            },
            {
              sourceTag: 'type:domain',
              onlyDependOnLibsWithTags: ['type:domain'],
              bannedExternalImports: frameworks,
            },
            {
              // e.g. tools/cluster's routing tests use the shared helpers of libs/testing.
              sourceTag: 'type:testing',
              onlyDependOnLibsWithTags: [
                'type:feature',
                'type:infra',
                'type:domain',
                'type:testing',
                'type:client',
              ],
            },
            {
              // The client's end-to-end tests start real nodes with the shared helpers.
              sourceTag: 'type:client',
              onlyDependOnLibsWithTags: ['type:domain', 'type:testing', 'type:client'],
            },
          ],
        },
      ],
      'jest/no-disabled-tests': 'error',
      'jest/expect-expect': ['error', { assertFunctionNames: ['expect', 'expect*'] }],
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Node scripts type-checked by tsc (checkJs in their project's tsconfig), which knows
    // Node's globals; no-undef would only repeat that check without them.
    files: ['tools/**/*.mjs'],
    rules: { 'no-undef': 'off' },
  },
  prettier,
);
