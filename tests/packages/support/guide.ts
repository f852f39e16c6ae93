// Scenario (e): the plugin author's guide (docs/plugin-authors-guide.md), its code blocks, and the
// local "secret service" that the guide's plugin fetches from.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './packing.js';

export const GUIDE = join(ROOT, 'docs', 'plugin-authors-guide.md');
export const readGuide = () => readFileSync(GUIDE, 'utf8');

export const GUIDE_SECRETS = [
  { id: 'myorg/db/password', value: 'guide-pw-1', owner: 'team-db' },
  { id: 'myorg/api/token', value: 'guide-tok-2', owner: 'team-api', expires: '2031-01-01T00:00:00Z' },
  { id: 'other/thing', value: 'not-mine', owner: 'nobody' },
];
export const GUIDE_TOKEN = 'guide-token';

/** The first ```lang block after the first occurrence of `anchor` in the guide. */
export function guideBlock(text: string, anchor: string, lang: string): string {
  const at = text.indexOf(anchor);
  if (at < 0) throw new Error(`docs/plugin-authors-guide.md: "${anchor}" not found`);
  const open = text.indexOf(`\`\`\`${lang}\n`, at);
  if (open < 0) throw new Error(`docs/plugin-authors-guide.md: no \`\`\`${lang} block after "${anchor}"`);
  const start = open + lang.length + 4;
  return text.slice(start, text.indexOf('\n```', start) + 1);
}

/** The lines of a shell block, without comments and surrounding blanks. */
export const shellLines = (block: string): string[] =>
  block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim());

/**
 * The guide's "secret service": GET /list with `Authorization: Bearer <GUIDE_TOKEN>` answers
 * GUIDE_SECRETS; a wrong token 401, any other path 404.
 */
export async function startGuideService(): Promise<{ url: string; close(): void }> {
  const service: Server = createServer((req, res) => {
    if (req.url !== '/list' || req.headers.authorization !== `Bearer ${GUIDE_TOKEN}`) {
      res.writeHead(req.url === '/list' ? 401 : 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(GUIDE_SECRETS));
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(service.address() as AddressInfo).port}/`,
    close() {
      service.close();
      service.closeAllConnections();
    },
  };
}
