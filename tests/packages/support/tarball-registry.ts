// A local npm registry of the @secrets-engine scope that serves the packed tarballs, for a command
// that is given one package and must find its @secrets-engine dependencies itself, as
// `secrets-engine plugins install <tarball>` does (scenario h). Each tarball's manifest becomes a
// one-version packument (`GET /@secrets-engine%2fNAME`) whose dist.tarball is served from here
// with its integrity; anything else is 404. Only the scope is pointed here, third-party
// dependencies still come from the public registry, as in the other scenarios. The scope's
// registry is set in a user config file (a copy of the current one plus one line), not as
// `npm_config_@secrets-engine:registry`: the CLI's sh launcher (dash) drops environment
// variables whose names are not shell identifiers.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from './packing.js';
import { check } from './processes.js';

export interface TarballRegistry {
  /** `http://127.0.0.1:PORT/` */
  url: string;
  /** `npm_config_userconfig`: a user config file that points npm's @secrets-engine scope here. */
  env: Record<string, string>;
  /** The `sha512-…` integrity of each tarball served, by package name. */
  integrity: Map<string, string>;
  /** The packuments and tarballs asked for so far (request paths). */
  requests: string[];
  close(): void;
}

export async function startTarballRegistry(
  tarballs: string[],
  scope: string,
  cwd: string,
): Promise<TarballRegistry> {
  const packuments = new Map<string, unknown>();
  const files = new Map<string, Buffer>();
  const requests: string[] = [];
  const integrity = new Map<string, string>();
  const entries = await Promise.all(
    tarballs.map(async (tarball) => {
      const res = await check(`tar (${tarball})`, 'tar', ['-xzOf', tarball, 'package/package.json'], { cwd });
      return { tarball, manifest: JSON.parse(res.stdout) as Manifest & Record<string, unknown> };
    }),
  );
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    requests.push(path);
    const packument = packuments.get(path.slice(1));
    if (packument !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument));
      return;
    }
    const file = files.get(path);
    if (file !== undefined) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(file);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  for (const { tarball, manifest } of entries) {
    if (!manifest.name.startsWith(`${scope}/`))
      throw new Error(`${tarball}: ${manifest.name} is not in ${scope}`);
    const bytes = readFileSync(tarball);
    const file = `/tarballs/${manifest.name.slice(scope.length + 1)}-${manifest.version}.tgz`;
    files.set(file, bytes);
    integrity.set(manifest.name, `sha512-${createHash('sha512').update(bytes).digest('base64')}`);
    packuments.set(manifest.name, {
      name: manifest.name,
      'dist-tags': { latest: manifest.version },
      versions: {
        [manifest.version]: {
          ...manifest,
          dist: {
            tarball: `${url}${file.slice(1)}`,
            integrity: integrity.get(manifest.name),
            shasum: createHash('sha1').update(bytes).digest('hex'),
          },
        },
      },
    });
  }
  return {
    url,
    integrity,
    env: { npm_config_userconfig: userConfig(cwd, scope, url) },
    requests,
    close() {
      server.close();
      server.closeAllConnections();
    },
  };
}

/** A copy of the current npm user config (if any) in `dir`, with `<scope>:registry=<url>` added. */
function userConfig(dir: string, scope: string, url: string): string {
  const current =
    process.env.npm_config_userconfig ?? process.env.NPM_CONFIG_USERCONFIG ?? join(homedir(), '.npmrc');
  const text = existsSync(current) ? readFileSync(current, 'utf8') : '';
  const file = join(dir, 'scope-registry.npmrc');
  writeFileSync(file, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${scope}:registry=${url}\n`);
  return file;
}
