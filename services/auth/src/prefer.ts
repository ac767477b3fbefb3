/**
 * RFC 7240 `Prefer` request header, parsed by its grammar:
 *
 *     Prefer     = 1#preference
 *     preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] )
 *     parameter  = token [ BWS "=" BWS word ]
 *     word       = token / quoted-string
 *
 * Lenient where the RFC asks for it: empty list elements are skipped, a malformed element
 * is dropped without dropping its neighbours, names are case-insensitive, and only the
 * first occurrence of a preference counts (§2).
 */

/** One preference of a `Prefer` header. */
export interface Preference {
  /** Lower-cased preference name, e.g. `wait`. */
  name: string;
  /** Its value (quoted-string unquoted), or undefined when absent or empty (§2: the same). */
  value: string | undefined;
  /** Its parameters, names lower-cased. */
  params: ReadonlyArray<{ name: string; value: string | undefined }>;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const isWs = (c: string | undefined) => c === ' ' || c === '\t';

class Scanner {
  i = 0;
  readonly s: string;
  constructor(s: string) {
    this.s = s;
  }
  peek(): string | undefined {
    return this.s[this.i];
  }
  ows(): void {
    while (isWs(this.peek())) this.i++;
  }
  token(): string | undefined {
    const start = this.i;
    while (this.i < this.s.length && TCHAR.test(this.s[this.i] as string)) this.i++;
    return this.i > start ? this.s.slice(start, this.i) : undefined;
  }
  quoted(): string | undefined {
    if (this.peek() !== '"') return undefined;
    this.i++;
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i++] as string;
      if (c === '"') return out;
      if (c === '\\') {
        if (this.i >= this.s.length) return undefined;
        out += this.s[this.i++];
      } else out += c;
    }
    return undefined;
  }
  word(): string | undefined {
    return this.peek() === '"' ? this.quoted() : this.token();
  }
  /** `token [ BWS "=" BWS word ]`; null when malformed. */
  pair(): { name: string; value: string | undefined } | null {
    const name = this.token();
    if (name === undefined) return null;
    const mark = this.i;
    this.ows();
    if (this.peek() !== '=') {
      this.i = mark;
      return { name: name.toLowerCase(), value: undefined };
    }
    this.i++;
    this.ows();
    const value = this.word();
    if (value === undefined) return null;
    return { name: name.toLowerCase(), value: value === '' ? undefined : value };
  }
  /** Skips to the next list separator outside a quoted-string. */
  skipElement(): void {
    while (this.i < this.s.length && this.peek() !== ',') {
      if (this.peek() === '"') {
        if (this.quoted() === undefined) this.i = this.s.length;
      } else this.i++;
    }
  }
}

function parseElement(scan: Scanner): Preference | null {
  const head = scan.pair();
  if (head === null) return null;
  const params: Array<{ name: string; value: string | undefined }> = [];
  for (;;) {
    scan.ows();
    if (scan.peek() !== ';') break;
    scan.i++;
    scan.ows();
    // `;` may be followed by nothing (an empty parameter).
    if (scan.peek() === ';' || scan.peek() === ',' || scan.peek() === undefined) continue;
    const param = scan.pair();
    if (param === null) return null;
    params.push(param);
  }
  scan.ows();
  if (scan.peek() !== ',' && scan.peek() !== undefined) return null;
  return { name: head.name, value: head.value, params };
}

/**
 * Every well-formed preference of the `Prefer` header(s), first occurrence of each name
 * only, in order. Several header lines count as one list (RFC 9110 §5.3).
 */
export function parsePrefer(header: string | readonly string[] | undefined): Preference[] {
  if (header === undefined) return [];
  const scan = new Scanner(typeof header === 'string' ? header : header.join(','));
  const seen = new Set<string>();
  const out: Preference[] = [];
  while (scan.i < scan.s.length) {
    scan.ows();
    if (scan.peek() === ',') {
      scan.i++;
      continue;
    }
    if (scan.peek() === undefined) break;
    const start = scan.i;
    const element = parseElement(scan);
    if (element === null) {
      scan.i = start;
      scan.skipElement();
      continue;
    }
    if (!seen.has(element.name)) {
      seen.add(element.name);
      out.push(element);
    }
  }
  return out;
}

/** A `Prefer: wait=N` the server honours. */
export interface WaitPreference {
  /** The N asked for, seconds (may exceed the cap). */
  requestedSeconds: number;
  /** The wait applied: N capped at the server's maximum, seconds. Goes into `Preference-Applied`. */
  seconds: number;
}

/**
 * The `wait` preference (RFC 7240 §4.3: `wait=delta-seconds`) of a `Prefer` header, capped
 * at `maxSeconds`; undefined without one, or when its value is not delta-seconds (1*DIGIT):
 * a preference the server cannot use is ignored, never an error (§2).
 */
export function waitPreference(header: string | readonly string[] | undefined, maxSeconds: number): WaitPreference | undefined {
  const wait = parsePrefer(header).find((p) => p.name === 'wait');
  if (wait?.value === undefined || !/^[0-9]+$/.test(wait.value)) return undefined;
  // Beyond 15 digits Number loses precision; anything that long is capped anyway.
  const requestedSeconds = wait.value.length > 15 ? Number.MAX_SAFE_INTEGER : Number(wait.value);
  return { requestedSeconds, seconds: Math.min(requestedSeconds, maxSeconds) };
}
