import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_ID_LENGTH, redactUrl, requestIdFromHeader, serviceLogOptions, useRequestLog } from './logging.ts';

function capturingApp(level = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const options = serviceLogOptions({ level });
  const app = Fastify({ ...options, logger: { ...(options.logger as object), stream } });
  useRequestLog(app);
  app.get('/v1/thing', async () => ({ ok: true }));
  app.get('/healthz', async () => ({ status: 'ok' }));
  return { app, lines };
}

describe('redactUrl', () => {
  it('keeps the path and parameter names, never a value', () => {
    expect(redactUrl('/v1/orders?token=eyJhbGciOi.x.y&page=2')).toBe('/v1/orders?token=[REDACTED]&page=[REDACTED]');
    expect(redactUrl('/v1/orders')).toBe('/v1/orders');
    expect(redactUrl('/a?flag&b=')).toBe('/a?flag=[REDACTED]&b=[REDACTED]');
    expect(redactUrl('/a?we%20ird=1')).toBe('/a?[name]=[REDACTED]');
    expect(redactUrl(`/${'p'.repeat(600)}`)).toHaveLength(513);
  });
});

describe('requestIdFromHeader', () => {
  it('accepts a bounded id of safe characters and refuses the rest', () => {
    expect(requestIdFromHeader('abc-123_x.y:z')).toBe('abc-123_x.y:z');
    expect(requestIdFromHeader('x'.repeat(MAX_REQUEST_ID_LENGTH))).toHaveLength(MAX_REQUEST_ID_LENGTH);
    for (const bad of ['', 'x'.repeat(MAX_REQUEST_ID_LENGTH + 1), 'a b', 'a"b', 'a\nb', 'é']) expect(requestIdFromHeader(bad)).toBeUndefined();
    expect(requestIdFromHeader(['a', 'b'])).toBeUndefined();
    expect(requestIdFromHeader(undefined)).toBeUndefined();
  });
});

describe('serviceLogOptions', () => {
  it('honours a valid X-Request-Id, echoes it, and logs it with the request', async () => {
    const { app, lines } = capturingApp();
    const reply = await app.inject({ url: '/v1/thing', headers: { 'x-request-id': 'trace-42' } });
    expect(reply.headers['x-request-id']).toBe('trace-42');
    expect(lines.filter((l) => l['reqId'] === 'trace-42').map((l) => l['msg'])).toEqual(['incoming request', 'request completed']);
    await app.close();
  });

  it('replaces an invalid or oversized X-Request-Id with a fresh UUID, on 404s too', async () => {
    const { app } = capturingApp();
    for (const sent of ['has space', 'x'.repeat(MAX_REQUEST_ID_LENGTH + 1)]) {
      const reply = await app.inject({ url: '/nowhere', headers: { 'x-request-id': sent } });
      expect(reply.statusCode).toBe(404);
      expect(reply.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    await app.close();
  });

  it('logs query-string values and credentials never, probes only at debug', async () => {
    const secret = 'eyJhbGciOiJFZERTQSJ9.secret-payload.signature';
    const { app, lines } = capturingApp();
    await app.inject({ url: `/v1/thing?token=${secret}`, headers: { authorization: `Bearer ${secret}`, cookie: `rt=${secret}` } });
    await app.inject({ url: `/nowhere?access_token=${secret}` });
    await app.inject({ url: '/healthz' });
    const text = lines.map((l) => JSON.stringify(l)).join('\n');
    expect(text).not.toContain('secret-payload');
    expect(text).toContain('/v1/thing?token=[REDACTED]');
    expect(text).toContain('/nowhere?access_token=[REDACTED]');
    expect(text).not.toContain('/healthz');
    await app.close();

    const debug = capturingApp('debug');
    await debug.app.inject({ url: '/healthz' });
    expect(debug.lines.filter((l) => (l['req'] as { url?: string } | undefined)?.url === '/healthz').map((l) => l['level'])).toEqual([20]);
    await debug.app.close();
  });
});
