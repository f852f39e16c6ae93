// The published packages, folder names under packages/: the changesets `fixed` group, released
// together at one version. check-packages.mjs checks that this list is exactly the workspace's
// public packages; tests/packages (`pnpm test:packages`) packs and installs each of them.
export const PUBLISHED = [
  'proto',
  'secrets',
  'ipc',
  'plugin-sdk',
  'runtime',
  'client',
  'cli',
  'plugin-file',
  'plugin-env',
  'plugin-keychain',
  'plugin-exec',
];
