import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createResourceApp } from './service.ts';

const APP = 'https://app.example.com';
let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(corsOrigins?: string[]): Promise<FastifyInstance> {
  app = createResourceApp({ logLevel: 'silent', ...(corsOrigins !== undefined ? { corsOrigins } : {}) });
  app.get('/v1/orders', async (_request, reply) => reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'invalid_token' }));
  await app.ready();
  return app;
}

const preflight = (a: FastifyInstance, origin: string) =>
  a.inject({ method: 'OPTIONS', url: '/v1/orders', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });

describe('resource service CORS (createResourceApp corsOrigins)', () => {
  it('grants a listed origin the Bearer header, without credentials, and exposes WWW-Authenticate', async () => {
    const a = await build([APP]);
    const pre = await preflight(a, APP);
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(APP);
    expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
    expect(String(pre.headers['access-control-allow-headers'])).toContain('authorization');
    const res = await a.inject({ method: 'GET', url: '/v1/orders', headers: { origin: APP, authorization: 'Bearer x' } });
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(String(res.headers['access-control-expose-headers'])).toContain('www-authenticate');
  });

  it('gives any other origin, and every origin by default, no CORS header', async () => {
    const listed = await build([APP]);
    const other = await preflight(listed, 'https://evil.example.net');
    expect(other.statusCode).toBe(404);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    await listed.close();
    const none = await build();
    const res = await preflight(none, APP);
    expect(res.statusCode).toBe(404);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});
