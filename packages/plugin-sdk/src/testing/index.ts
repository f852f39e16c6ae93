/**
 * Test helpers for plugin authors: an in-process harness and a conformance suite that launches a
 * plugin binary exactly as an engine does.
 *
 * @packageDocumentation
 */
export {
  type ConformanceCheck,
  ConformanceError,
  type ConformanceOptions,
  type ConformanceReport,
  checkPluginConformance,
} from './conformance.js';
export {
  type HarnessOptions,
  type HarnessRegistration,
  type PluginHarness,
  startPluginHarness,
} from './harness.js';
