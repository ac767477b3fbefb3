/**
 * Real headless Chromium for browser tests: Debian's `chromium` (installed with apt-get when
 * missing) driven by playwright-core, which never downloads a browser of its own; and a
 * tiny static server that gives a test page its own origin.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium, type BrowserContext } from 'playwright-core';
import { ensureDebianPackage } from './apt.ts';

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/**
 * Makes sure Debian's chromium is installed (`apt-get update && apt-get install -y chromium`
 * when it is missing, through the shared {@link ensureDebianPackage}: once per machine,
 * quietly, waiting for any other apt-get). Returns the browser's path.
 */
export async function ensureChromium(): Promise<string> {
  const path = await ensureDebianPackage('chromium');
  if (path !== CHROMIUM_PATH) throw new Error(`chromium is at ${path}, expected Debian's ${CHROMIUM_PATH}`);
  return path;
}

/** A headless Chromium with a fresh profile; `close()` also deletes the profile. */
export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Debian's Chromium (see {@link ensureChromium}) with a fresh user-data-dir. */
export async function launchChromium(): Promise<TestBrowser> {
  const executablePath = await ensureChromium();
  const userDataDir = await mkdtemp(join(tmpdir(), 'revocable-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
    return {
      context,
      close: async () => {
        await context.close().catch(() => undefined);
        await rm(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
}

/** Bundles a browser entry point (TypeScript, workspace imports resolved) into one ES module. */
export async function bundleForBrowser(entry: string): Promise<string> {
  const result = await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent' });
  const file = result.outputFiles[0];
  if (file === undefined) throw new Error(`esbuild produced nothing for ${entry}`);
  return file.text;
}

/** A static server on its own origin. */
export interface StaticSite {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  close(): Promise<void>;
}

/** Serves `files` (path → [content type, body]) on 127.0.0.1:`port`; anything else is 404. */
export async function serveStatic(port: number, files: Record<string, [string, string]>): Promise<StaticSite> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const file = files[path];
    if (file === undefined || request.method !== 'GET') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
