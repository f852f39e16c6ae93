// The manual page and --help never disagree (issue 16 item 6): the page shipped in the package
// (bundle/secrets-engine.1, built from help.ts) is what renderManPage makes now, and rendered by
// man(1) it holds every help text, word for word and in order.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_DIR } from './__tests__/cli.js';
import { COMMAND_HELP, MAIN_HELP } from './help.js';
import { renderManPage } from './manual.js';

const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
  version: string;
  man: string[];
};
const page = join(PACKAGE_DIR, pkg.man[0]!);
const normalize = (text: string) => text.replace(/\s+/g, ' ').trim();
const noMan =
  spawnSync('man', ['--version'], { stdio: 'ignore' }).status === 0 ? undefined : 'man(1) is not installed';

describe('the manual page', () => {
  it("is shipped as the package's man entry, built from the help texts of this source", () => {
    expect(pkg.man).toEqual(['./bundle/secrets-engine.1']);
    expect(readFileSync(page, 'utf8')).toBe(renderManPage(pkg.version));
  });

  it.skipIf(noMan !== undefined)(
    'rendered by man(1), holds every --help text word for word, in order',
    () => {
      const r = spawnSync('man', ['-l', page], {
        env: { ...process.env, MANWIDTH: '120', MAN_KEEP_FORMATTING: '', LANG: 'C', LC_ALL: 'C' },
        encoding: 'utf8',
      });
      expect(r.status).toBe(0);
      // Not a terminal: man prints plain text (no overstrike).
      const text = normalize(r.stdout);
      // NAME says "secrets-engine - <summary>"; DESCRIPTION has the rest of the main help.
      const [summary, ...rest] = MAIN_HELP.split('\n\n');
      expect(text).toContain(`NAME ${normalize(summary!).replace('secrets-engine: ', 'secrets-engine - ')}`);
      expect(text).toContain(normalize(rest.join('\n\n')));
      let from = 0;
      for (const [command, help] of Object.entries(COMMAND_HELP)) {
        const at = text.indexOf(normalize(help), from);
        expect(at, `the help of ${command} in the page`).toBeGreaterThan(-1);
        expect(text.slice(0, at)).toContain(`secrets-engine ${command}`);
        from = at;
      }
    },
  );
  if (noMan !== undefined) {
    const title = `rendering NOT RUN: ${noMan} (.ci/run installs man-db)`;
    if (process.env.CI) {
      it(title, () => {
        throw new Error(`the manual page could not be rendered here: ${noMan}`);
      });
    } else it.skip(title, () => {});
  }
});
