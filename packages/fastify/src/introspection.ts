/** Where and as whom to call the auth service's RFC 7662 introspection endpoint. */
export interface IntrospectionOptions {
  /** Full URL of the endpoint, e.g. `http://127.0.0.1:3000/oauth/introspect`. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** Give up after this long, milliseconds. Default 2000. */
  timeoutMs?: number;
}

/** Introspection could not give an answer (network, timeout, non-200, bad body). */
export class IntrospectionError extends Error {
  readonly code = 'ERR_INTROSPECTION_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IntrospectionError';
  }
}

/** The parts of an RFC 7662 answer the verifier uses. */
export interface IntrospectionResult {
  active: boolean;
}

// RFC 6749 §2.3.1: client id and secret are form-urlencoded before being joined and base64ed.
function basicAuth(clientId: string, clientSecret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
}

/**
 * Asks the auth service whether `token` is active (RFC 7662), authenticating with HTTP
 * Basic client credentials. Throws {@link IntrospectionError} when there is no answer.
 */
export async function introspectToken(token: string, options: IntrospectionOptions): Promise<IntrospectionResult> {
  let response: Response;
  try {
    response = await fetch(options.url, {
      method: 'POST',
      headers: {
        authorization: basicAuth(options.clientId, options.clientSecret),
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      signal: AbortSignal.timeout(options.timeoutMs ?? 2000),
    });
  } catch (error) {
    throw new IntrospectionError('introspection endpoint unreachable', { cause: error });
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new IntrospectionError(`introspection answered HTTP ${response.status}`);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    throw new IntrospectionError('introspection answer is not JSON', { cause: error });
  }
  if (typeof body !== 'object' || body === null || typeof (body as { active?: unknown }).active !== 'boolean') {
    throw new IntrospectionError('introspection answer lacks "active"');
  }
  return { active: (body as { active: boolean }).active };
}
