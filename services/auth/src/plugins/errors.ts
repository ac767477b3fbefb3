import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { TokenVerificationError } from '@revocable/tokens';
import { isDbUnavailable } from '../db.ts';
import { AuthError } from '../errors.ts';

interface ErrorBody {
  error: string;
  error_description: string;
  reason?: string;
}

// Fixed descriptions for framework errors: their own messages may echo parts of the input.
const FRAMEWORK_4XX: Record<string, ErrorBody & { status: number }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, error: 'invalid_request', error_description: 'unsupported content type; send application/json or application/x-www-form-urlencoded' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, error: 'invalid_request', error_description: 'request body is too large' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, error: 'invalid_request', error_description: 'request body is empty' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, error: 'invalid_request', error_description: 'content-length does not match the body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, error: 'invalid_request', error_description: 'request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 415, error: 'invalid_request', error_description: 'content type is missing' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, error: 'invalid_request', error_description: 'content type is invalid' },
  FST_ERR_BAD_URL: { status: 400, error: 'invalid_request', error_description: 'malformed URL' },
};

/**
 * The one place where error codes become HTTP answers: `{error, error_description}`,
 * correct status, never a stack trace. Anything unexpected is logged and answered 500
 * with a generic description.
 */
export const errorHandlerPlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((err: FastifyError | Error, request, reply) => {
      const send = (status: number, body: ErrorBody, headers: Record<string, string> = {}) => {
        for (const [k, v] of Object.entries(headers)) reply.header(k, v);
        return reply.status(status).type('application/json; charset=utf-8').send(body);
      };
      if (err instanceof AuthError) {
        const headers: Record<string, string> = {};
        if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
        // RFC 6750 §3.1: a request without a bearer token gets the bare challenge, no error code.
        if (err.code === 'ERR_AUTH_MISSING_TOKEN') headers['www-authenticate'] = 'Bearer';
        else if (err.status === 401 && err.error === 'invalid_token') headers['www-authenticate'] = 'Bearer error="invalid_token"';
        // RFC 6749 §5.2: invalid_client is 401 with a challenge of the scheme the client may use.
        if (err.code === 'ERR_AUTH_INVALID_CLIENT') headers['www-authenticate'] = 'Basic realm="revocable", charset="UTF-8"';
        if (err.status >= 500) request.log.warn({ code: err.code, cause: describeCause(err.cause) }, err.message);
        const body: ErrorBody = { error: err.error, error_description: err.message };
        if (err.reason !== undefined) body.reason = err.reason;
        return send(err.status, body, headers);
      }
      if (err instanceof TokenVerificationError) {
        return send(401, { error: 'invalid_token', error_description: `access token rejected: ${err.reason}` }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      }
      const fe = err as FastifyError;
      if (fe.validation !== undefined) {
        return send(400, { error: 'invalid_request', error_description: validationMessage(fe) });
      }
      const known = fe.code !== undefined ? FRAMEWORK_4XX[fe.code] : undefined;
      if (known !== undefined) return send(known.status, { error: known.error, error_description: known.error_description });
      if (fe.statusCode === 429) {
        const retry = reply.getHeader('retry-after');
        return send(429, { error: 'rate_limited', error_description: 'too many requests, retry later' }, retry === undefined ? {} : { 'retry-after': String(retry) });
      }
      if (err instanceof SyntaxError || (fe.statusCode === 400 && fe.code === undefined)) {
        return send(400, { error: 'invalid_request', error_description: 'request body is malformed' });
      }
      if (isDbUnavailable(err)) {
        request.log.warn({ err: describeCause(err) }, 'database unavailable');
        return send(503, { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable, retry later' }, { 'retry-after': '1' });
      }
      // PostgreSQL data exceptions (class 22): input the database refuses, e.g. a NUL byte.
      const sqlstate = (err as { code?: unknown }).code;
      if (typeof sqlstate === 'string' && sqlstate.startsWith('22')) {
        return send(400, { error: 'invalid_request', error_description: 'request contains a value that cannot be stored' });
      }
      if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
        return send(fe.statusCode, { error: 'invalid_request', error_description: 'the request is invalid' });
      }
      request.log.error({ err }, 'unhandled error');
      return send(500, { error: 'server_error', error_description: 'internal error' });
    });

    app.setNotFoundHandler((request, reply) => {
      void reply.status(404).send({ error: 'not_found', error_description: `no route ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}` });
    });
  },
  { name: 'revocable-auth-errors', fastify: '5.x' },
);

function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0];
  if (first === undefined) return 'request is invalid';
  const where = err.validationContext ?? 'body';
  const path = first.instancePath ? `${where}${first.instancePath.replaceAll('/', '.')}` : where;
  if (first.keyword === 'required') return `${path} must have property "${String((first.params as { missingProperty?: string }).missingProperty)}"`;
  return `${path} ${first.message ?? 'is invalid'}`.slice(0, 300);
}

function describeCause(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${cause.message}` : cause.message;
  }
  return String(cause);
}
