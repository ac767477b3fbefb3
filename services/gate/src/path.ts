/**
 * The request target a proxy reports, reduced to the one path the route rules are matched
 * against. Anything an upstream could read as a different path than we do is refused rather
 * than guessed at: the gate must never allow `/public/../admin` as `/public`.
 */

/** Why a reported request target was refused (the `reason` of a 400). */
export type PathRejectReason =
  | 'missing_uri'
  | 'uri_too_long'
  | 'invalid_uri'
  | 'encoded_separator'
  | 'ambiguous_encoding'
  | 'path_traversal';

/** A normalised path, or the reason it could not be one. */
export type NormalisedPath = { ok: true; path: string } | { ok: false; reason: PathRejectReason };

/** Default longest request target looked at, bytes. */
export const DEFAULT_MAX_URI_BYTES = 4096;

// RFC 3986 pchar plus "/" (query and fragment are cut off before this is applied).
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
const PERCENT = /%([0-9A-Fa-f]{2})/g;

/**
 * Normalises the original request target (`/a/b?q`, or an absolute `http://host/a/b`):
 * drops query and fragment, decodes percent-encoding once (RFC 3986 §2.3, UTF-8), merges
 * repeated slashes and removes `.`/`..` segments (§5.2.4). Refuses what upstreams disagree
 * about: encoded `/`, `\` or NUL, a `%` left after decoding (double encoding), `;` path
 * parameters (Tomcat reads `/..;/` as `/../`), backslashes, control characters, and `..`
 * above the root.
 * @example normalisePath('/public/%2e%2e/admin?x=1') // { ok: true, path: '/admin' }
 */
export function normalisePath(target: string | undefined, maxBytes = DEFAULT_MAX_URI_BYTES): NormalisedPath {
  if (target === undefined || target.length === 0) return { ok: false, reason: 'missing_uri' };
  if (Buffer.byteLength(target) > maxBytes) return { ok: false, reason: 'uri_too_long' };
  let rest = target;
  const absolute = /^https?:\/\/[^/?#]*/i.exec(rest);
  if (absolute !== null) rest = rest.slice(absolute[0].length) || '/';
  const cut = rest.search(/[?#]/);
  const raw = cut === -1 ? rest : rest.slice(0, cut);
  if (!raw.startsWith('/')) return { ok: false, reason: 'invalid_uri' };
  if (raw.includes('\\')) return { ok: false, reason: 'ambiguous_encoding' };
  if (!PATH_CHARS.test(raw)) return { ok: false, reason: 'invalid_uri' };
  if (raw.includes(';')) return { ok: false, reason: 'ambiguous_encoding' };

  let decoded: string;
  for (const [, hex] of raw.matchAll(PERCENT)) {
    const byte = Number.parseInt(hex as string, 16);
    if (byte === 0x2f || byte === 0x5c) return { ok: false, reason: 'encoded_separator' };
    if (byte < 0x20 || byte === 0x7f) return { ok: false, reason: 'invalid_uri' };
  }
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // A lone '%' or a sequence that is not UTF-8.
    return { ok: false, reason: 'invalid_uri' };
  }
  if (decoded.includes('%') || decoded.includes(';') || decoded.includes('\\')) return { ok: false, reason: 'ambiguous_encoding' };

  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return { ok: false, reason: 'path_traversal' };
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  const trailing = decoded.endsWith('/') && segments.length > 0 ? '/' : '';
  return { ok: true, path: `/${segments.join('/')}${trailing}` };
}
