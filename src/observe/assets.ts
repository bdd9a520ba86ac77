/**
 * The files the dashboard serves: its page (src/observe/web/) and uPlot's
 * browser build from node_modules, read once into memory when the dashboard
 * starts, so that a request never touches the disk and the page works
 * offline (no CDN).
 *
 * The page is served from src/observe/web/ itself, the one copy of it: the
 * compiled dashboard (dist/src/observe/) finds it three folders up, in the
 * checkout as in the installed package (package.json "files" ships it), so
 * no copy step can leave a stale page behind after `tsc`.
 */

import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** The page's folder, seen from the compiled dist/src/observe/. */
export const WEB_DIR = join(__dirname, '..', '..', '..', 'src', 'observe', 'web');

/** uPlot's files, under /vendor/ on the page. */
const VENDOR = ['uplot/dist/uPlot.iife.min.js', 'uplot/dist/uPlot.min.css'];

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface Asset {
  body: Buffer;
  contentType: string;
}

/** Every file the page may ask for, by URL path ('/' is index.html). */
export type Assets = ReadonlyMap<string, Asset>;

function asset(body: Buffer, path: string): Asset {
  return { body, contentType: CONTENT_TYPES[extname(path)] ?? 'application/octet-stream' };
}

/**
 * Reads the page and uPlot into memory.
 * @throws when a file is missing (an incomplete install): the dashboard does not start.
 */
export async function loadAssets(webDir: string = WEB_DIR): Promise<Assets> {
  const assets = new Map<string, Asset>();
  for (const name of await readdir(webDir)) {
    if (!(extname(name) in CONTENT_TYPES)) continue;
    assets.set(`/${name}`, asset(await readFile(join(webDir, name)), name));
  }
  const index = assets.get('/index.html');
  if (index === undefined) throw new Error(`the dashboard's page is missing: no index.html in ${webDir}`);
  assets.set('/', index);
  for (const file of VENDOR) {
    const path = require.resolve(file);
    assets.set(`/vendor/${file.slice(file.lastIndexOf('/') + 1)}`, asset(await readFile(path), path));
  }
  return assets;
}
