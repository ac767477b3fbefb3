// The admin console in real headless Chromium (Debian's chromium, playwright-core) against
// the real cluster: sign in with the admin credential, find a user by email, revoke one of
// their two sessions, and both resource services refuse that session's token while the
// other session's token keeps working; the live view (server-sent events) lists the
// instances and both instances' receipts of the revocation. Screenshots go to test/artifacts/ (docs/images/ holds the README's).
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type TestBrowser } from './support/browser.ts';
import { startCluster, type Cluster } from './support/cluster.ts';
import { databaseUrl, kafkaBrokers, waitFor } from './support/env.ts';

const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const PASSWORD = 'correct horse battery staple';

let cluster: Cluster;
let browser: TestBrowser;
let page: Page;
const pageErrors: string[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  // Chromium first: on a new machine this is the apt-get install.
  browser = await launchChromium();
  cluster = await startCluster({ kafkaBrokers: kafkaBrokers(), databaseUrl: databaseUrl() });
  page = await browser.context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
});

async function screenshot(name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
}

const sidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sid: string }).sid;

async function statusAt(url: string, path: string, token: string): Promise<number> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('admin console', () => {
  it('signs in, finds a user by email, revokes one of two sessions: both services refuse that one and keep the other', async () => {
    const email = `console-${randomUUID()}@example.com`;
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${cluster.authUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    expect((await post('/v1/users', { email, password: PASSWORD })).status).toBe(201);
    const tokens: string[] = [];
    for (const agent of ['Firefox 139 on Ubuntu', 'Safari on iPhone 16']) {
      const res = await post('/v1/login', { email, password: PASSWORD, audience: ['orders', 'profile'] }, { 'user-agent': agent });
      expect(res.status).toBe(200);
      tokens.push(((await res.json()) as { access_token: string }).access_token);
    }
    const [laptop, phone] = tokens as [string, string];
    for (const token of tokens) {
      expect(await statusAt(cluster.ordersUrl, '/v1/orders', token)).toBe(200);
      expect(await statusAt(cluster.profileUrl, '/v1/profile', token)).toBe(200);
    }

    await page.goto(`${cluster.authUrl}/admin`);
    await page.getByTestId('admin-token').fill('not the admin token');
    await page.getByTestId('sign-in').click();
    await page.getByTestId('sign-in-error').waitFor();
    await page.getByTestId('admin-token').fill(cluster.adminToken);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('user-email').fill(email.toUpperCase());
    await page.getByTestId('find-user').click();
    await page.getByTestId('user-panel').waitFor();
    expect(await page.getByTestId('session-row').count()).toBe(2);
    expect(await page.getByTestId('sessions').innerText()).toContain('Safari on iPhone 16');
    await screenshot('admin-console-user');

    await page.locator(`[data-testid="session-row"][data-sid="${sidOf(laptop)}"]`).getByTestId('revoke-session').click();
    await page.getByTestId('user-message').filter({ hasText: 'Session revoked.' }).waitFor();
    // The console asked the call to wait (Prefer: wait) and says where the revocation landed.
    expect(await page.getByTestId('user-message').innerText()).toMatch(/^Session revoked\. Confirmed by 2 of 2 instances \(slowest \d+ ms\)\.$/);
    await waitFor(async () => (await page.getByTestId('session-row').count()) === 1, { timeoutMs: 10_000, what: 'the revoked session to leave the list' });
    expect(await page.locator(`[data-testid="session-row"][data-sid="${sidOf(phone)}"]`).count()).toBe(1);

    // Confirmed means applied: both resource services refuse it now, without waiting.
    expect(await statusAt(cluster.ordersUrl, '/v1/orders', laptop)).toBe(401);
    expect(await statusAt(cluster.profileUrl, '/v1/profile', laptop)).toBe(401);
    expect(await statusAt(cluster.ordersUrl, '/v1/orders', phone)).toBe(200);
    expect(await statusAt(cluster.profileUrl, '/v1/profile', phone)).toBe(200);

    // The live view: both instances, and the revocation confirmed by each of them.
    await page.getByTestId('tab-live').click();
    await waitFor(async () => (await page.getByTestId('instance-row').count()) === 2, { timeoutMs: 15_000, what: 'the live view to list the orders and profile instances' });
    expect((await page.getByTestId('instance-row').locator('td:nth-child(2)').allInnerTexts()).sort()).toEqual(['orders', 'profile']);
    const revocation = page.getByTestId('revocation-row').filter({ hasText: 'session.revoked' }).first();
    await waitFor(async () => (await revocation.locator('[data-testid="receipt"][data-status="confirmed"]').count()) === 2, {
      timeoutMs: 15_000,
      what: 'both instances\' receipts of the revocation in the live view',
    });
    await screenshot('admin-console-live');

    await page.getByTestId('tab-keys').click();
    await page.getByTestId('key-row').first().waitFor();
    await screenshot('admin-console-keys');
    expect(pageErrors).toEqual([]);
    // The one failed request the page made is the sign-in with the wrong credential.
    expect(consoleErrors).toEqual([expect.stringMatching(/status of 401/)]);
  }, 120_000);
});
