// A browser app on ANOTHER SITE than the auth service, in real headless Chromium: the page
// is served from 127.0.0.1:<port>, auth and orders answer on localhost:<port> (another
// site, so the refresh cookie is SameSite=None; Secure and every call needs CORS). Through
// @revocable/client it registers, logs in, calls orders, survives a reload (the session
// comes back from the HttpOnly cookie), refreshes, logs out, and learns from
// onSessionEnded when another device logs it out.
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RevocableClient, memoryStore } from '@revocable/client';
import { freePort } from '@revocable/infra';
import { bundleForBrowser, launchChromium, serveStatic, type StaticSite, type TestBrowser } from './support/browser.ts';
import { startCluster, type Cluster } from './support/cluster.ts';
import { databaseUrl, kafkaBrokers, waitFor } from './support/env.ts';

const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const EMAIL = `browser-${Date.now()}@example.com`;
const PASSWORD = 'correct horse battery staple';

let cluster: Cluster;
let site: StaticSite;
let browser: TestBrowser;
let page: Page;
let pageUrl: string;
const consoleErrors: string[] = [];

type Outcome = { ok: boolean; status?: number; body?: unknown; error?: { name: string; code: string; message: string } };

beforeAll(async () => {
  // Chromium first: on a new machine this is the apt-get install.
  browser = await launchChromium();
  const sitePort = await freePort();
  const pageOrigin = `http://127.0.0.1:${sitePort}`;
  cluster = await startCluster({
    kafkaBrokers: kafkaBrokers(),
    databaseUrl: databaseUrl(),
    services: ['auth', 'orders'],
    env: {
      all: { CORS_ORIGINS: pageOrigin },
      // The cross-site cookie mode. Chromium treats http://localhost as a secure context,
      // so a Secure cookie set by it comes back.
      auth: { COOKIE_SAMESITE: 'none', COOKIE_SECURE: 'true' },
    },
  });
  const script = await bundleForBrowser(fileURLToPath(new URL('./browser/page.ts', import.meta.url)));
  const html =
    '<!doctype html><html><head><meta charset="utf-8"><title>Revocable browser app</title></head>' +
    '<body style="font: 16px system-ui; margin: 2em"><h1>Revocable browser app</h1>' +
    '<p>status: <b id="status">loading</b></p><p id="who"></p>' +
    '<script type="module" src="/app.js"></script></body></html>';
  site = await serveStatic(sitePort, { '/': ['text/html; charset=utf-8', html], '/app.js': ['text/javascript; charset=utf-8', script] });
  const authUrl = cluster.authUrl.replace('127.0.0.1', 'localhost');
  const ordersUrl = cluster.ordersUrl.replace('127.0.0.1', 'localhost');
  pageUrl = `${site.origin}/?auth=${encodeURIComponent(authUrl)}&orders=${encodeURIComponent(ordersUrl)}`;
  page = await browser.context.newPage();
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await load();
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await cluster?.stop();
});

async function load(): Promise<void> {
  await page.goto(pageUrl);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 30_000 });
}

function call(name: string, ...args: unknown[]): Promise<Outcome> {
  return page.evaluate(
    ([fn, rest]) => (window.revocableApp as unknown as Record<string, (...a: unknown[]) => Promise<Outcome>>)[fn as string]!(...(rest as unknown[])),
    [name, args] as const,
  );
}

function value<T>(name: string): Promise<T> {
  return page.evaluate((fn) => (window.revocableApp as unknown as Record<string, () => T>)[fn]!(), name);
}

async function screenshot(name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
}

describe('a browser app on another site, in headless Chromium', () => {
  let firstSession: string;

  it('registers and logs in across origins; the refresh cookie stays out of reach of scripts', async () => {
    expect(new URL(pageUrl).origin).not.toBe(new URL(cluster.authUrl.replace('127.0.0.1', 'localhost')).origin);
    const registered = await call('register', EMAIL, PASSWORD);
    expect(registered, JSON.stringify(registered)).toMatchObject({ ok: true, body: { email: EMAIL } });
    const login = await call('login', EMAIL, PASSWORD);
    expect(login, JSON.stringify(login)).toMatchObject({ ok: true });
    firstSession = String(login.body);
    expect(firstSession).toMatch(/^[0-9a-f-]{36}$/);
    expect(await value<string>('documentCookie')).toBe('');
    // Partitioned (CHIPS): Chromium blocks unpartitioned third-party cookies.
    const refresh = (await browser.context.cookies()).filter((c) => c.name === 'revocable_rt');
    expect(refresh.map((c) => c.path).sort()).toEqual(['/oauth/token', '/v1/logout']);
    for (const cookie of refresh) expect(cookie).toMatchObject({ domain: 'localhost', httpOnly: true, secure: true, sameSite: 'None' });
  });

  it('calls orders with the bearer token (CORS preflight on another origin)', async () => {
    const created = await call('createOrder', 'teapot');
    expect(created, JSON.stringify(created)).toMatchObject({ ok: true, status: 201, body: { item: 'teapot' } });
    const listed = await call('listOrders');
    expect(listed).toMatchObject({ ok: true, status: 200 });
    expect((listed.body as { orders: Array<{ item: string }> }).orders.map((o) => o.item)).toEqual(['teapot']);
    await screenshot('browser-logged-in');
  });

  it('gets the session back after a reload, from the HttpOnly cookie alone', async () => {
    await load();
    expect(await value<string | null>('accessToken')).toBeNull();
    const resumed = await call('resume');
    expect(resumed, JSON.stringify(resumed)).toMatchObject({ ok: true, body: firstSession });
    const listed = await call('listOrders');
    expect((listed.body as { orders: Array<{ item: string }> }).orders.map((o) => o.item)).toEqual(['teapot']);
  });

  it('refreshes: a new access token, the same session, the cookie rotated', async () => {
    const before = await value<string>('accessToken');
    const cookieBefore = (await browser.context.cookies()).find((c) => c.name === 'revocable_rt')?.value;
    const refreshed = await call('refresh');
    expect(refreshed).toMatchObject({ ok: true });
    expect(refreshed.body).not.toBe(before);
    expect(await value<string>('sessionId')).toBe(firstSession);
    const cookieAfter = (await browser.context.cookies()).find((c) => c.name === 'revocable_rt')?.value;
    expect(cookieAfter).toBeDefined();
    expect(cookieAfter).not.toBe(cookieBefore);
    expect(await call('listOrders')).toMatchObject({ ok: true, status: 200 });
  });

  it('logs out: orders refuses the old token, the cookie is gone, a reload finds no session', async () => {
    const token = await value<string>('accessToken');
    expect(await call('logout')).toMatchObject({ ok: true });
    expect(await value<string | null>('accessToken')).toBeNull();
    await waitFor(async () => (await call('ordersWith', token)).status === 401, { timeoutMs: 20_000, what: 'orders refusing the logged-out token' });
    expect((await browser.context.cookies()).find((c) => c.name === 'revocable_rt')).toBeUndefined();
    await load();
    const resumed = await call('resume');
    expect(resumed).toMatchObject({ ok: false, error: { code: 'ERR_NOT_AUTHENTICATED' } });
    expect(await value<unknown[]>('ended')).toEqual([]);
  });

  it('ends the page session through onSessionEnded when another device logs it out', async () => {
    const login = await call('login', EMAIL, PASSWORD);
    expect(login).toMatchObject({ ok: true });
    const pageSession = String(login.body);
    expect(await call('listOrders')).toMatchObject({ ok: true, status: 200 });

    // Another device (a CLI with its own session) logs the browser's session out.
    const phone = new RevocableClient({ authUrl: cluster.authUrl, storage: memoryStore(), audience: 'orders' });
    await phone.login({ email: EMAIL, password: PASSWORD });
    const sessions = await phone.sessions();
    expect(sessions.map((s) => s.sid)).toContain(pageSession);
    await phone.revokeSession(pageSession);

    // The page's next calls meet the revocation (orders learns it from Kafka; the refresh is
    // refused by the auth service at once) and the SDK reports the end exactly once.
    await waitFor(
      async () => {
        await call('listOrders');
        return (await value<unknown[]>('ended')).length > 0;
      },
      { timeoutMs: 20_000, what: 'onSessionEnded in the page' },
    );
    expect(await value<unknown[]>('ended')).toEqual([{ reason: 'revoked', code: 'ERR_SESSION_REVOKED' }]);
    expect(await value<string | null>('accessToken')).toBeNull();
    expect(await page.textContent('#status')).toBe('session ended: revoked');
    await screenshot('browser-session-ended');
    expect(await phone.sessions()).toHaveLength(1);
    await phone.logout();
    expect(consoleErrors).toEqual([]);
  });
});
