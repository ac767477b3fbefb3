/**
 * Calls to a running auth service over HTTP that cluster tests share: admin reads, and a
 * fresh user's session. `auth` is the cluster (or anything with its URL and admin token).
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';

/** Where the auth service answers and its ADMIN_TOKEN. */
export interface AuthEndpoint {
  authUrl: string;
  adminToken: string;
}

/** The admin bearer header. */
export function adminHeaders(auth: AuthEndpoint): Record<string, string> {
  return { authorization: `Bearer ${auth.adminToken}` };
}

/** GETs `path` as admin; asserts 200 and returns the JSON body. */
export async function adminJson<T>(auth: AuthEndpoint, path: string): Promise<T> {
  const res = await fetch(`${auth.authUrl}${path}`, { headers: adminHeaders(auth) });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

/** Registers a fresh user (`<prefix>-<uuid>@example.test`) and logs in for orders and profile; asserts 201 and 200 and returns the access token. */
export async function newSessionToken(auth: Pick<AuthEndpoint, 'authUrl'>, prefix: string): Promise<string> {
  const email = `${prefix}-${randomUUID()}@example.test`;
  const password = `pw-${randomUUID()}`;
  const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect((await fetch(`${auth.authUrl}/v1/users`, json({ email, password }))).status).toBe(201);
  const res = await fetch(`${auth.authUrl}/v1/login`, json({ email, password, audience: ['orders', 'profile'] }));
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** What {@link authCall} answers: the status and the JSON body (`{}` when empty). */
export interface AuthAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** One call to the auth service at `authUrl`: `body` sent as JSON, `bearer` as the Authorization header. */
export async function authCall(authUrl: string, method: string, path: string, options: { body?: unknown; bearer?: string } = {}): Promise<AuthAnswer> {
  const res = await fetch(`${authUrl}${path}`, {
    method,
    headers: {
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(options.bearer !== undefined ? { authorization: `Bearer ${options.bearer}` } : {}),
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** Registers `<prefix>-<uuid>@example.test` with `password`; asserts 201 and returns the email. */
export async function registerUser(authUrl: string, prefix: string, password: string): Promise<string> {
  const email = `${prefix}-${randomUUID()}@example.test`;
  expect((await authCall(authUrl, 'POST', '/v1/users', { body: { email, password } })).status).toBe(201);
  return email;
}

/** Logs in with the default audiences; asserts 200 and returns the access token. */
export async function loginToken(authUrl: string, email: string, password: string): Promise<string> {
  const res = await authCall(authUrl, 'POST', '/v1/login', { body: { email, password } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body['access_token'] as string;
}
