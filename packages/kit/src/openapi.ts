/** What each error status means, for the OpenAPI documents of every service. */
export const ERROR_STATUS_DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'Invalid request (`invalid_request`): a parameter or body field failed validation, or the body is malformed',
  401: 'Missing, invalid, expired or revoked credentials (`invalid_token`, `invalid_grant` or `invalid_client`; `WWW-Authenticate` says which)',
  403: 'Authenticated but not allowed (`insufficient_scope`, `access_denied`)',
  404: 'No such resource (`not_found`)',
  409: 'Conflicts with the current state',
  413: 'Request body too large',
  415: 'Unsupported content type',
  429: 'Rate limited (`rate_limited`); `Retry-After` says when to retry',
  500: 'Unexpected error (`server_error`); never carries internals',
  503: 'Temporarily unavailable (`temporarily_unavailable`, `not_ready` or stale revocation state); `Retry-After` says when to retry',
};

/** The OAuth-style error body `{error, error_description, reason?}` every service answers errors with (documentation). */
export const ERROR_BODY_SCHEMA = {
  type: 'object',
  required: ['error', 'error_description'],
  properties: {
    error: { type: 'string', description: 'OAuth-style error code' },
    error_description: { type: 'string', description: 'human-readable, safe to show' },
    reason: { type: 'string', description: 'machine-readable refinement (e.g. `revoked`, `expired`, `reuse_detected`)' },
  },
} as const;

type Schema = Record<string, unknown>;

/**
 * `schema` with an error response documented for each of `statuses` that it does not
 * document yet (an explicit entry or a `4xx`/`5xx` range is kept as written). For the
 * `transform` of @fastify/swagger: the document changes, the route's serializers do not.
 * @example
 * transform: ({ schema, url }) => ({ url, schema: withErrorResponses(schema, [400, 500]) })
 */
export function withErrorResponses(schema: Schema | undefined, statuses: readonly number[], errorSchema: Schema = ERROR_BODY_SCHEMA): Schema {
  const responses: Schema = { ...((schema?.['response'] as Schema | undefined) ?? {}) };
  for (const status of statuses) {
    if (responses[String(status)] !== undefined) continue;
    responses[String(status)] = { ...errorSchema, description: ERROR_STATUS_DESCRIPTIONS[status] ?? `Error ${status}` };
  }
  // Every answer gets a description (OpenAPI requires one): a success answer the route's summary.
  for (const [code, response] of Object.entries(responses)) {
    const entry = response as Schema;
    if (typeof entry['description'] === 'string') continue;
    const description = /^2/.test(code)
      ? ((schema?.['summary'] as string | undefined) ?? 'Success')
      : (ERROR_STATUS_DESCRIPTIONS[Number(code)] ?? (/^4/.test(code) ? 'Client error (`{error, error_description}`)' : 'Server error (`{error, error_description}`)'));
    responses[code] = { ...entry, description };
  }
  return { ...(schema ?? {}), response: responses };
}

/** True when a route schema takes input that can fail validation (body, params, query, headers). */
export function takesInput(schema: Schema | undefined): boolean {
  return schema !== undefined && ['body', 'params', 'querystring', 'headers'].some((part) => schema[part] !== undefined);
}
