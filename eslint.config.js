// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Folders that must not reach into each other (DESIGN.md §4). */
const boundaries = [
  {
    from: 'errors',
    forbid: ['schemas', 'log', 'producers', 'consumers', 'status', 'native', 'cloud', 'bin'],
  },
  {
    from: 'schemas',
    forbid: ['log', 'producers', 'consumers', 'status', 'native', 'cloud', 'bin'],
  },
  { from: 'log', forbid: ['producers', 'consumers', 'status', 'native', 'cloud', 'bin'] },
  { from: 'producers', forbid: ['consumers', 'status', 'bin'] },
  { from: 'consumers', forbid: ['producers', 'status', 'bin'] },
  {
    from: 'native',
    forbid: ['schemas', 'log', 'producers', 'consumers', 'status', 'cloud', 'bin'],
  },
  // Cloud API plumbing shared by one cloud's sources and targets (pacing, retries, snapshots).
  {
    from: 'cloud',
    forbid: ['schemas', 'log', 'producers', 'consumers', 'status', 'native', 'bin'],
  },
  { from: 'status', forbid: ['producers', 'consumers', 'bin'] },
];

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'native/**/build/**', 'kmod/**', 'data/**', '.tmp/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The status page's script runs in the browser, as a classic script.
    files: ['status/page/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        document: 'readonly',
        window: 'readonly',
        fetch: 'readonly',
        EventSource: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
      },
    },
  },
  ...boundaries.map(({ from, forbid }) => ({
    files: [`${from}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: forbid.map((folder) => ({
            group: [`**/${folder}/*`, `../${folder}`, `../../${folder}`],
            message: `${from}/ must not import ${folder}/ (DESIGN.md §4: ports and adapters).`,
          })),
        },
      ],
    },
  })),
);
