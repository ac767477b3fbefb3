/**
 * Reads the payload of a compact JWT WITHOUT verifying it. The SDK only uses it to plan
 * refreshes (`exp`, `iat`) and to show who is logged in (`sub`, `sid`); the resource
 * services verify every token themselves. Never base an authorization decision on it.
 */

/** The claims the SDK looks at. Times are epoch seconds. */
export interface UnverifiedClaims {
  sub?: string;
  sid?: string;
  jti?: string;
  aud?: string | string[];
  iat?: number;
  exp?: number;
  ver?: number;
  scope?: string;
  [claim: string]: unknown;
}

/** Decodes the payload of `token`; returns `null` when it is not a readable compact JWT. */
export function decodeJwtPayload(token: string): UnverifiedClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const payload = parts[1];
  if (payload === undefined || payload.length === 0 || !/^[A-Za-z0-9_-]+$/.test(payload)) return null;
  try {
    const json = new TextDecoder().decode(base64UrlToBytes(payload));
    const value: unknown = JSON.parse(json);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    return value as UnverifiedClaims;
  } catch {
    return null;
  }
}

function base64UrlToBytes(input: string): Uint8Array {
  const base64 = input.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  // atob exists in browsers and in Node.js >= 16; no Buffer, so this also runs in browsers.
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
