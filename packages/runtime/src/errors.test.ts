// Error classes: names, hierarchy, and instanceof across copies of the package (Symbol.for brand).
import { describe, expect, it } from 'vitest';
import { EngineAlreadyRunningError, EngineConfigError, PluginNotFoundError, RuntimeError } from './index.js';

describe('runtime errors', () => {
  it('are named RuntimeErrors with their own fields', () => {
    const running = new EngineAlreadyRunningError('/run/x.sock', { cause: new Error('EADDRINUSE') });
    expect(running).toBeInstanceOf(RuntimeError);
    expect(running).toBeInstanceOf(Error);
    expect(running.name).toBe('EngineAlreadyRunningError');
    expect(running.socketPath).toBe('/run/x.sock');
    expect((running.cause as Error).message).toBe('EADDRINUSE');
    const missing = new PluginNotFoundError('vault');
    expect(missing.message).toBe('plugin "vault" not found');
    expect(missing.pluginName).toBe('vault');
    for (const [err, name] of [
      [new EngineConfigError('x'), 'EngineConfigError'],
      [new RuntimeError('x'), 'RuntimeError'],
    ] as const) {
      expect(err.name).toBe(name);
      expect(String(err)).toBe(`${name}: x`);
    }
  });

  it('instanceof tells the classes apart and works for another copy of the package', () => {
    expect(new EngineConfigError('x')).not.toBeInstanceOf(PluginNotFoundError);
    expect(new RuntimeError('x')).not.toBeInstanceOf(EngineConfigError);
    // What another copy's EngineConfigError looks like: the shared brand and the class name.
    const foreign = Object.assign(new Error('x'), { name: 'EngineConfigError' });
    (foreign as unknown as Record<symbol, boolean>)[Symbol.for('@secrets-engine/runtime.error')] = true;
    expect(foreign).toBeInstanceOf(EngineConfigError);
    expect(foreign).toBeInstanceOf(RuntimeError);
    expect(foreign).not.toBeInstanceOf(PluginNotFoundError);
    // A look-alike without the brand is not one.
    expect(Object.assign(new Error('x'), { name: 'EngineConfigError' })).not.toBeInstanceOf(
      EngineConfigError,
    );
    expect(null).not.toBeInstanceOf(RuntimeError);
  });
});
