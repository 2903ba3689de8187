// Lint: ESLint's recommended rules and typescript-eslint's, over every TypeScript file.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'target/**', 'shared/generated/**', 'protocol/scanner/test/golden/**', 'native/**', 'out/**', 'walt/image/**/rootfs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: { ...globals.node } } },
  {
    rules: {
      // Unused arguments named with a leading underscore are a protocol's shape, not a mistake.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // A variable a closure reads before its one assignment (a process started later) stays let.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Walking up a tree of surfaces starts from `this`.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['s'] }],
    },
  },
);
