// The launch variable DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG and the launch transports
// (protocol.md §1.3, §1.4, §0 "Platform scope"; §8.2 TestPluginConfigFromEngine_ToString and
// TestNewPluginConfigFromEngineFromString). The child-process side is in child.test.ts.
import { describe, expect, it } from 'vitest';
import { isIpcError, LaunchConfigError, UnsupportedPlatformError } from '../errors.js';
import {
  encodeLaunchConfig,
  LAUNCH_ENV,
  LAUNCH_FD,
  type LaunchConfig,
  launchTransport,
  openLaunchChannel,
  parseLaunchConfig,
} from './launch.js';

/** The error `fn` throws; fails the test if it does not throw. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw, but the call returned');
}

/** The two examples of protocol.md §1.3, decoded. */
const UNIX_EXAMPLE: LaunchConfig = { name: 'plugin-foo', timeoutMs: 5000, platform: 'unix', fd: 3 };
const WINDOWS_EXAMPLE: LaunchConfig = {
  name: 'x',
  timeoutMs: 5000,
  platform: 'windows',
  readHandle: 356n,
  writeHandle: 360n,
};

function parseError(value: string, platform: 'unix' | 'windows' = 'unix'): Error {
  const err = thrown(() => parseLaunchConfig(value, platform));
  expect(err).toBeInstanceOf(LaunchConfigError);
  expect(err.name).toBe('LaunchConfigError');
  expect(isIpcError(err)).toBe(true);
  return err;
}

describe('launch configuration (protocol.md §1.3)', () => {
  it('names the variable and the fd as Go does (§1.2, §1.3)', () => {
    expect(LAUNCH_ENV).toBe('DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG');
    expect(LAUNCH_FD).toBe(3);
  });

  it('encodes exactly like Go encoding/json: compact, name, timeout in ns, fd (§1.3 example)', () => {
    expect(encodeLaunchConfig(UNIX_EXAMPLE)).toBe('{"name":"plugin-foo","timeout":5000000000,"fd":3}');
  });

  it('encodes the Windows variant with r and w after timeout (§1.3 example, §1.4)', () => {
    expect(encodeLaunchConfig(WINDOWS_EXAMPLE)).toBe('{"name":"x","timeout":5000000000,"r":356,"w":360}');
  });

  it('escapes <, >, &, U+2028 and U+2029 in the name as Go encoding/json does (§0: the JSON must match)', () => {
    // Go: json.Marshal(PluginConfigFromEngine{Name: "a<b>&c\u2028\u2029", ...}) (checked with go 1.25).
    const value = encodeLaunchConfig({
      name: 'a<b>&c\u2028\u2029"\\',
      timeoutMs: 5000,
      platform: 'unix',
      fd: 3,
    });
    expect(value).toBe(
      '{"name":"a\\u003cb\\u003e\\u0026c\\u2028\\u2029\\"\\\\","timeout":5000000000,"fd":3}',
    );
    expect(parseLaunchConfig(value, 'unix')).toMatchObject({ name: 'a<b>&c\u2028\u2029"\\' });
  });

  it('round-trips (unix and windows), including Go test values like a 27 ns timeout', () => {
    const configs: LaunchConfig[] = [
      UNIX_EXAMPLE,
      { name: 'ünïcode/näme ✓', timeoutMs: 10_000, platform: 'unix', fd: 10 },
      WINDOWS_EXAMPLE,
    ];
    for (const config of configs) {
      expect(parseLaunchConfig(encodeLaunchConfig(config), config.platform)).toEqual(config);
    }
    // Go's TestPluginConfigFromEngine_ToString uses RegistrationTimeout 27 ns.
    const tiny = encodeLaunchConfig({ name: 'p', timeoutMs: 27 / 1_000_000, platform: 'unix', fd: 10 });
    expect(tiny).toBe('{"name":"p","timeout":27,"fd":10}');
    expect(encodeLaunchConfig(parseLaunchConfig(tiny, 'unix'))).toBe(tiny);
  });

  it('a 500-character name stays within 2048 characters (§1.3, Windows env-var limit)', () => {
    const name = 'ab'.repeat(250);
    expect(name).toHaveLength(500);
    const value = encodeLaunchConfig({ name, timeoutMs: 5000, platform: 'unix', fd: 3 });
    expect(value.length).toBeLessThanOrEqual(2048);
    expect(parseLaunchConfig(value, 'unix')).toEqual({ name, timeoutMs: 5000, platform: 'unix', fd: 3 });
    const win = encodeLaunchConfig({
      name,
      timeoutMs: 5000,
      platform: 'windows',
      readHandle: 2n ** 63n,
      writeHandle: 2n ** 63n,
    });
    expect(win.length).toBeLessThanOrEqual(2048);
  });

  it('refuses to encode what the plugin would refuse (empty name, non-finite timeout)', () => {
    expect(() => encodeLaunchConfig({ name: '', timeoutMs: 5000, platform: 'unix', fd: 3 })).toThrow(
      new LaunchConfigError('plugin name is required'),
    );
    for (const timeoutMs of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const err = thrown(() => encodeLaunchConfig({ name: 'p', timeoutMs, platform: 'unix', fd: 3 }));
      expect(err).toBeInstanceOf(LaunchConfigError);
      expect(err.message).toMatch(/timeout/);
    }
  });

  describe('validation with Go messages (NewPluginConfigFromEngineEnv)', () => {
    it.each([
      ['empty name', '{"name":"","timeout":5000000000,"fd":3}'],
      ['missing name', '{"timeout":5000000000,"fd":3}'],
      ['null name', '{"name":null,"timeout":5000000000,"fd":3}'],
      ['empty object', '{}'],
    ])('%s → "plugin name is required"', (_case, value) => {
      expect(parseError(value).message).toBe('plugin name is required');
    });

    it.each([
      ['zero timeout', '{"name":"p","timeout":0,"fd":3}'],
      ['missing timeout', '{"name":"p","fd":3}'],
    ])('%s → "plugin registration timeout is required"', (_case, value) => {
      expect(parseError(value).message).toBe('plugin registration timeout is required');
    });

    it.each([
      ['fd 2', '{"name":"p","timeout":1,"fd":2}'],
      ['fd 0', '{"name":"p","timeout":1,"fd":0}'],
      ['negative fd', '{"name":"p","timeout":1,"fd":-1}'],
      ['missing fd', '{"name":"p","timeout":1}'],
    ])('unix: %s → "invalid file descriptor for plugin connection"', (_case, value) => {
      expect(parseError(value, 'unix').message).toBe('invalid file descriptor for plugin connection');
    });

    it.each([
      ['r zero', '{"name":"p","timeout":1,"r":0,"w":360}'],
      ['w zero', '{"name":"p","timeout":1,"r":356,"w":0}'],
      ['both missing', '{"name":"p","timeout":1}'],
      ['only fd (a unix payload)', '{"name":"p","timeout":1,"fd":3}'],
    ])('windows: %s → "invalid pipe handlers"', (_case, value) => {
      expect(parseError(value, 'windows').message).toBe('invalid pipe handlers');
    });

    it('checks in Go order: name, then timeout, then the platform keys', () => {
      expect(parseError('{"fd":1}').message).toBe('plugin name is required');
      expect(parseError('{"name":"p","fd":1}').message).toBe('plugin registration timeout is required');
    });

    it('a valid config passes; fd 3 and above are accepted', () => {
      expect(parseLaunchConfig('{"name":"test-plugin","timeout":10000000000,"fd":10}', 'unix')).toEqual({
        name: 'test-plugin',
        timeoutMs: 10_000,
        platform: 'unix',
        fd: 10,
      });
      expect(parseLaunchConfig('{"name":"p","timeout":1000000,"fd":3}', 'unix')).toMatchObject({ fd: 3 });
      expect(parseLaunchConfig('{"name":"x","timeout":5000000000,"r":356,"w":360}', 'windows')).toEqual(
        WINDOWS_EXAMPLE,
      );
    });

    it('a negative timeout is accepted, as in Go', () => {
      expect(parseLaunchConfig('{"name":"p","timeout":-5000000000,"fd":3}', 'unix')).toMatchObject({
        timeoutMs: -5000,
      });
    });
  });

  describe('decoding like Go encoding/json', () => {
    it('matches keys case-insensitively', () => {
      expect(parseLaunchConfig('{"NAME":"p","Timeout":2000000,"FD":4}', 'unix')).toEqual({
        name: 'p',
        timeoutMs: 2,
        platform: 'unix',
        fd: 4,
      });
      expect(parseLaunchConfig('{"Name":"p","TIMEOUT":1000000,"R":7,"w":9}', 'windows')).toMatchObject({
        readHandle: 7n,
        writeHandle: 9n,
      });
    });

    it('an exact-case key wins over a case-folded duplicate', () => {
      // The first case agrees with Go. The second is our rule: Go lets the LAST duplicate win
      // whatever its case (it decodes {"name":"exact","Name":"folded"} as "folded"). No engine
      // writes duplicate keys, so the difference is not observable in practice.
      expect(parseLaunchConfig('{"NAME":"folded","name":"exact","timeout":1,"fd":3}', 'unix').name).toBe(
        'exact',
      );
      expect(parseLaunchConfig('{"name":"exact","Name":"folded","timeout":1,"fd":3}', 'unix').name).toBe(
        'exact',
      );
    });

    it('ignores unknown keys', () => {
      expect(
        parseLaunchConfig(
          '{"name":"p","timeout":1000000,"fd":3,"extra":{"nested":[1,2]},"r":5,"version":"v2"}',
          'unix',
        ),
      ).toEqual({ name: 'p', timeoutMs: 1, platform: 'unix', fd: 3 });
    });

    it('invalid JSON gives a LaunchConfigError naming the variable, with the parser error as cause', () => {
      for (const value of ['', '{', 'not json', '{"name":"p",}', "{'name':'p'}"]) {
        const err = parseError(value);
        expect(err.message).toMatch(/^DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG is not valid JSON: /);
        expect(err.cause).toBeInstanceOf(SyntaxError);
      }
    });

    it.each([
      ['[1,2]', 'an array'],
      ['"plugin-foo"', 'string'],
      ['42', 'number'],
      ['true', 'boolean'],
    ])('a non-object (%s) gives a LaunchConfigError saying what it got', (value, got) => {
      const err = parseError(value);
      expect(err.message).toBe(`DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG must be a JSON object, got ${got}`);
    });

    it('JSON null decodes to an empty config, as in Go, so the name check fires', () => {
      // Go: json.Unmarshal([]byte("null"), &cfg) is a no-op, then "plugin name is required".
      expect(parseError('null').message).toBe('plugin name is required');
    });

    it.each([
      ['name a number', '{"name":5,"timeout":1,"fd":3}', '"name" must be a string, got 5'],
      ['name an object', '{"name":{},"timeout":1,"fd":3}', '"name" must be a string, got {}'],
      ['timeout a string', '{"name":"p","timeout":"5s","fd":3}', '"timeout" must be an integer, got "5s"'],
      ['timeout a fraction', '{"name":"p","timeout":1.5,"fd":3}', '"timeout" must be an integer, got 1.5'],
      ['fd a string', '{"name":"p","timeout":1,"fd":"3"}', '"fd" must be an integer, got "3"'],
      ['fd a boolean', '{"name":"p","timeout":1,"fd":true}', '"fd" must be an integer, got true'],
    ])('a wrong type (%s) gives a clear LaunchConfigError', (_case, value, detail) => {
      expect(parseError(value).message).toBe(`DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG: ${detail}`);
    });

    it('a wrong type of r/w is reported on Windows', () => {
      expect(parseError('{"name":"p","timeout":1,"r":"356","w":360}', 'windows').message).toBe(
        'DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG: "r" must be an integer, got "356"',
      );
    });
  });
});

describe('openLaunchChannel (protocol.md §1.3: no fallback to a manual launch)', () => {
  it('returns undefined when the variable is not set', () => {
    expect(openLaunchChannel({})).toBeUndefined();
    expect(openLaunchChannel({ OTHER: 'x' })).toBeUndefined();
  });

  it('throws when the variable is set but invalid, before touching any fd', () => {
    const err = thrown(() => openLaunchChannel({ [LAUNCH_ENV]: '{"name":"p","timeout":1,"fd":2}' }));
    expect(err).toBeInstanceOf(LaunchConfigError);
    expect(err.message).toBe('invalid file descriptor for plugin connection');
    expect(thrown(() => openLaunchChannel({ [LAUNCH_ENV]: '' }))).toBeInstanceOf(LaunchConfigError);
  });
});

describe('launch transports (protocol.md §1.2, §1.4, §0 "Platform scope")', () => {
  it('picks the socketpair transport on Unix platforms and the pipe pair on Windows', () => {
    expect(launchTransport('linux').platform).toBe('unix');
    expect(launchTransport('darwin').platform).toBe('unix');
    expect(launchTransport('win32').platform).toBe('windows');
  });

  it('Windows: launch and open fail with UnsupportedPlatformError saying "not supported"', () => {
    const windows = launchTransport('win32');
    const launchErr = thrown(() => windows.launch({ command: 'plugin.exe', name: 'plugin' }));
    expect(launchErr).toBeInstanceOf(UnsupportedPlatformError);
    expect(launchErr.name).toBe('UnsupportedPlatformError');
    expect(launchErr.message).toMatch(/not supported/);
    const openErr = thrown(() => windows.open(WINDOWS_EXAMPLE));
    expect(openErr).toBeInstanceOf(UnsupportedPlatformError);
    expect(openErr.message).toMatch(/not supported/);
    expect(isIpcError(openErr)).toBe(true);
  });

  it('Unix: opening a Windows (pipe handle) config is a LaunchConfigError, not a crash', () => {
    const err = thrown(() => launchTransport('linux').open(WINDOWS_EXAMPLE));
    expect(err).toBeInstanceOf(LaunchConfigError);
    expect(err.message).toMatch(/pipe handles/);
  });
});
