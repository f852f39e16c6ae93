// The TS plugin of the end-to-end benchmark (e2e.ts): a secrets provider written with OUR plugin SDK,
// launched by an engine from its plugins folder (fd 3 + DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG),
// through a one-line sh wrapper (`exec node e2e-plugin.js`). Pattern `bench/**`; it holds one secret,
// `bench/<its launch name>/key` = "hunter2", version v1. The Go plugin of the same benchmark
// (gostack-plugin) is given the same pattern and secret.
import { createPlugin, match } from '@secrets-engine/plugin-sdk';

const launch = process.env.DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG;
const name: string = launch === undefined ? 'bench' : JSON.parse(launch).name;
const id = `bench/${name}/key`;

const plugin = createPlugin({
  name,
  version: 'v1.0.0',
  pattern: 'bench/**',
  getSecrets: (pattern) => (match(pattern, id) ? [{ id, value: 'hunter2', version: 'v1' }] : []),
});
await plugin.serve();
