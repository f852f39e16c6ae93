/**
 * Example application that embeds the secrets-engine runtime and reads its own secrets through
 * the client. The program is `main.ts`; this module exports its parts.
 *
 * @packageDocumentation
 */
export { type AppOptions, type AppReport, createAppProvider, runApp } from './app.js';
