import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with scrypt (node:crypto). OWASP parameters by default: N = 2^17,
 * r = 8, p = 1, 32-byte output, 16-byte salt. The cost (log2 N) is configurable
 * (PASSWORD_SCRYPT_COST) so tests can run at e.g. 2^10; hashes carry their own
 * parameters, so raising the cost later keeps old hashes verifiable.
 *
 * Stored format: `$scrypt$ln=17,r=8,p=1$<salt base64>$<hash base64>`.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Constant-time comparison; false for malformed stored hashes. */
  verify(password: string, stored: string): Promise<boolean>;
  /** Burns the same CPU as a real verification, for unknown accounts (no user enumeration by timing). */
  verifyDummy(password: string): Promise<false>;
  /** Precomputes the dummy hash, so even the first unknown-account login costs the same as the others. */
  prepare(): Promise<void>;
}

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function derive(password: string, salt: Buffer, ln: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** ln;
  // Node's default maxmem (32 MiB) is below what N=2^17, r=8 needs (128 * r * N = 128 MiB).
  const options: ScryptOptions = { N, r, p, maxmem: 256 * r * N };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Creates a hasher at `cost` = log2(N) (17 is the OWASP recommendation). */
export function createPasswordHasher(cost: number): PasswordHasher {
  const r = 8;
  const p = 1;
  let dummy: Promise<string> | undefined;
  const hash = async (password: string): Promise<string> => {
    const salt = randomBytes(SALT_LENGTH);
    const key = await derive(password, salt, cost, r, p);
    return `$scrypt$ln=${cost},r=${r},p=${p}$${salt.toString('base64')}$${key.toString('base64')}`;
  };
  const verify = async (password: string, stored: string): Promise<boolean> => {
    const m = FORMAT.exec(stored);
    if (m === null) return false;
    const [ln, rr, pp] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (ln < 10 || ln > 22 || rr < 1 || pp < 1) return false;
    const salt = Buffer.from(m[4] as string, 'base64');
    const expected = Buffer.from(m[5] as string, 'base64');
    const actual = await derive(password, salt, ln, rr, pp);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  };
  return {
    hash,
    verify,
    async prepare(): Promise<void> {
      dummy ??= hash(randomBytes(16).toString('hex'));
      await dummy;
    },
    async verifyDummy(password: string): Promise<false> {
      dummy ??= hash(randomBytes(16).toString('hex'));
      await verify(password, await dummy);
      return false;
    },
  };
}
