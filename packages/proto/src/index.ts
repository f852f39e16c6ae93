/**
 * Generated protobuf messages and Connect service descriptors of the secrets-engine wire
 * protocol (protocol.md §4). One namespace per protobuf package, named like Go import aliases:
 *
 * - `pluginsv1`: HEAD registration, shutdown and plugin management (§4.2);
 * - `resolverv1`: GetSecrets (identical at OLD and HEAD), the HEAD authorizer, and the OLD
 *   registration/list/shutdown services that the runtime still serves (§4.1);
 * - `healthv1`: the engine version;
 * - `accesscontrolv1`: access-control modules and requester identity (§10.1).
 *
 * @packageDocumentation
 */
export * as accesscontrolv1 from './accesscontrol-v1.js';
export * as healthv1 from './health-v1.js';
export * as pluginsv1 from './plugins-v1.js';
export * as resolverv1 from './resolver-v1.js';
