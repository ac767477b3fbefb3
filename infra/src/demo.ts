/**
 * The Revocable demo: what `./infra/revocable up` runs once the cluster is up.
 *
 *   node infra/src/demo.ts [--json]   (or ./infra/revocable demo, against a running cluster)
 *
 * Env: AUTH_URL, ORDERS_URL, PROFILE_URL (defaults: 127.0.0.1 ports 3000, 3001, 3002).
 *
 * One user, two devices (laptop, phone), each a real @revocable/client session. The laptop
 * logs out; the demo keeps presenting the laptop's copied access token (as a thief would)
 * to both resource services and measures, from the logout response, how many milliseconds
 * pass until each one rejects it, while the phone keeps working. Then logout-all, then a
 * refresh-token replay that trips reuse detection.
 *
 * With `--json`, the last line of stdout is a one-line JSON {@link DemoSummary} (for tests).
 * Exit code 0 when every fact held, 1 otherwise.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  NetworkError,
  RateLimitedError,
  RevocableClient,
  RevocableClientError,
  TimeoutError,
  decodeJwtPayload,
  memoryStore,
  type RefreshTokenStore,
  type SessionEndedEvent,
} from '@revocable/client';

// ---------------------------------------------------------------------------------------
// Configuration and output

interface DemoConfig {
  authUrl: string;
  ordersUrl: string;
  profileUrl: string;
  json: boolean;
  /** How long to wait for a service to reject a revoked token before calling it a failure. */
  propagationTimeoutMs: number;
}

function loadDemoConfig(argv: readonly string[], env: NodeJS.ProcessEnv): DemoConfig {
  const url = (name: string, fallback: string): string => {
    const raw = env[name] ?? fallback;
    try {
      return new URL(raw).toString().replace(/\/+$/, '');
    } catch {
      process.stderr.write(`${name}: must be a URL like ${fallback}, got "${raw}"\n`);
      process.exit(2);
    }
  };
  const timeout = Number(env['DEMO_PROPAGATION_TIMEOUT_MS'] ?? 10_000);
  return {
    authUrl: url('AUTH_URL', 'http://127.0.0.1:3000'),
    ordersUrl: url('ORDERS_URL', 'http://127.0.0.1:3001'),
    profileUrl: url('PROFILE_URL', 'http://127.0.0.1:3002'),
    json: argv.includes('--json'),
    propagationTimeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : 10_000,
  };
}

const tty = process.stdout.isTTY === true;
const colour = tty && !process.env['NO_COLOR'];
const paint = (code: string) => (text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const red = paint('31');
const cyan = paint('36');
const OK = green('✓');
const NO = red('✗');

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Shows a spinner (TTY only) while `work` runs. */
async function withSpinner<T>(label: string, work: Promise<T>): Promise<T> {
  if (!tty) return work;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let i = 0;
  const draw = () => process.stdout.write(`\r  ${cyan(frames[i++ % frames.length] ?? '')} ${label}`);
  draw();
  const timer = setInterval(draw, 80);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    process.stdout.write('\r\u001b[2K');
  }
}

/** Time left until the token's (unverified) exp, as m:ss. */
function remaining(token: string): string {
  const exp = decodeJwtPayload(token)?.exp;
  if (typeof exp !== 'number') return 'unknown';
  const seconds = Math.max(0, Math.round(exp - Date.now() / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')} min`;
}

const short = (id: string | undefined) => (id === undefined ? '?' : id.slice(0, 8));
const ms = (value: number) => `${value.toFixed(1)} ms`;

// ---------------------------------------------------------------------------------------
// Facts the demo establishes

type Service = 'orders' | 'profile';
const SERVICES: readonly Service[] = ['orders', 'profile'];

/** How one service treated a revoked token. */
export interface Rejection {
  rejected: boolean;
  /** Milliseconds from the revoking response to the first 401, polling continuously. */
  ms: number | null;
  status: number | null;
  /** The service's machine-readable reason (e.g. `revoked`). */
  reason: string | null;
  polls: number;
}

/** The machine-readable outcome of a demo run (`--json`). */
export interface DemoSummary {
  ok: boolean;
  urls: { auth: string; orders: string; profile: string; docs: string; metrics: string[] };
  user: string;
  /** Both devices could call both services before anything was revoked. */
  before: Record<'laptop' | 'phone', Record<Service, number>>;
  logout: {
    device: 'laptop';
    sid: string | null;
    rejectedBy: Record<Service, Rejection>;
    /** Status codes the phone got from each service after the laptop's token was rejected. */
    otherDevice: Record<Service, number>;
    otherDeviceKeptWorking: boolean;
  };
  logoutAll: {
    rejected: Record<'laptop' | 'phone', Record<Service, Rejection>>;
    allRejected: boolean;
  };
  reuse: {
    /** Status and OAuth error of the replayed (already rotated) refresh token. */
    replayStatus: number | null;
    replayError: string | null;
    /** The auth service's machine-readable refusal reason for the replay (`reuse_detected`). */
    replayReason: string | null;
    /** The auth service's `refreshes_total{result="reuse_detected"}` counter went up. */
    reuseDetectionsCounted: boolean;
    detected: boolean;
    /** What the legitimate device's SDK reported when its next refresh was refused. */
    sessionEndedReason: string | null;
    errorCode: string | null;
    /** The server's refusal reason for the legitimate device's refresh (`session_revoked`). */
    errorReason: string | null;
    rejectedBy: Record<Service, Rejection>;
  };
  failures: string[];
}

// ---------------------------------------------------------------------------------------
// The walk-through

class Device {
  readonly name: string;
  readonly store: RefreshTokenStore;
  readonly client: RevocableClient;
  readonly ended: SessionEndedEvent[] = [];

  constructor(name: string, config: DemoConfig) {
    this.name = name;
    this.store = memoryStore();
    this.client = new RevocableClient({
      authUrl: config.authUrl,
      storage: this.store,
      audience: ['orders', 'profile'],
      onSessionEnded: (event) => this.ended.push(event),
    });
  }
}

async function statusOf(response: Promise<Response>): Promise<number> {
  const r = await response;
  await r.body?.cancel().catch(() => undefined);
  return r.status;
}

/** The auth service's count of detected refresh-token reuses, from its /metrics (null if unreadable). */
async function reuseDetections(authUrl: string): Promise<number | null> {
  try {
    const response = await fetch(`${authUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) return null;
    const text = await response.text();
    const line = text.split('\n').find((l) => l.startsWith('revocable_auth_refreshes_total{') && l.includes('result="reuse_detected"'));
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  const config = loadDemoConfig(process.argv.slice(2), process.env);
  const failures: string[] = [];
  const check = (fact: boolean, what: string): boolean => {
    if (!fact) failures.push(what);
    return fact;
  };
  const urls = {
    auth: config.authUrl,
    orders: config.ordersUrl,
    profile: config.profileUrl,
    docs: `${config.authUrl}/docs`,
    metrics: [config.authUrl, config.ordersUrl, config.profileUrl].map((u) => `${u}/metrics`),
  };
  const serviceUrl: Record<Service, string> = { orders: config.ordersUrl, profile: config.profileUrl };

  say(bold('Revocable: logout that reaches every service, in milliseconds'));
  say(dim('A JWT stays valid until it expires. Here every logout goes through Kafka to each'));
  say(dim("service's in-memory denylist; services still verify tokens locally, no DB per request."));
  say();
  say(`  auth     ${urls.auth}   ${dim(`OpenAPI docs ${urls.docs}`)}`);
  say(`  orders   ${urls.orders}`);
  say(`  profile  ${urls.profile}`);
  say(`  metrics  ${urls.metrics.join('  ')}`);
  say();

  // A request each service answers only for a valid, unrevoked token of this user.
  const call = (service: Service, token: string): Promise<Response> =>
    fetch(service === 'orders' ? `${serviceUrl.orders}/v1/orders` : `${serviceUrl.profile}/v1/profile`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5000),
    });

  /** Presents `token` to every service continuously until each rejects it; times from `since`. */
  const measureRejection = async (token: string, since: number): Promise<Record<Service, Rejection>> => {
    const one = async (service: Service): Promise<Rejection> => {
      const deadline = since + config.propagationTimeoutMs;
      let polls = 0;
      for (;;) {
        polls += 1;
        const response = await call(service, token);
        const arrived = performance.now();
        if (response.status === 401) {
          const body = (await response.json().catch(() => ({}))) as { reason?: unknown };
          return {
            rejected: true,
            ms: Math.max(0, arrived - since),
            status: 401,
            reason: typeof body.reason === 'string' ? body.reason : null,
            polls,
          };
        }
        await response.body?.cancel().catch(() => undefined);
        if (arrived > deadline) return { rejected: false, ms: null, status: response.status, reason: null, polls };
      }
    };
    const [orders, profile] = await Promise.all([one('orders'), one('profile')]);
    return { orders, profile };
  };

  const showRejections = (who: string, result: Record<Service, Rejection>) => {
    for (const service of SERVICES) {
      const r = result[service];
      say(
        r.rejected
          ? `  ${OK} ${service.padEnd(7)} rejects ${who} token after ${bold(ms(r.ms ?? 0))} ${dim(`(401 ${r.reason ?? 'invalid_token'}, ${r.polls} ${r.polls === 1 ? 'poll' : 'polls'})`)}`
          : `  ${NO} ${service.padEnd(7)} still accepted ${who} token after ${config.propagationTimeoutMs} ms (last status ${r.status})`,
      );
    }
  };

  // 1. A user
  const email = `demo-${randomBytes(4).toString('hex')}@example.com`;
  const password = randomBytes(12).toString('base64url');
  const laptop = new Device('laptop', config);
  const phone = new Device('phone', config);
  say(bold('1. Register a user and log in on two devices'));
  await withSpinner('registering', laptop.client.register({ email, password }));
  await laptop.client.login({ email, password });
  await phone.client.login({ email, password });
  const laptopToken = await laptop.client.getAccessToken();
  const laptopSid = laptop.client.session?.sessionId ?? null;
  say(`  ${OK} ${email}`);
  say(`  ${OK} laptop session ${short(laptopSid ?? undefined)}, phone session ${short(phone.client.session?.sessionId)}`);
  say(`     ${dim(`access tokens for [${laptop.client.session?.audience.join(', ')}], valid ~${Math.round(((laptop.client.session?.expiresAt ?? 0) - Date.now()) / 60000)} min`)}`);

  // 2. Both devices use both services
  say(bold('2. Both devices call orders and profile'));
  const before = { laptop: { orders: 0, profile: 0 }, phone: { orders: 0, profile: 0 } };
  for (const device of [laptop, phone]) {
    const created = await statusOf(
      device.client.fetch(`${config.ordersUrl}/v1/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ item: `coffee beans (${device.name})`, quantity: 1 }),
      }),
    );
    const listed = await statusOf(device.client.fetch(`${config.ordersUrl}/v1/orders`));
    const profile = await statusOf(device.client.fetch(`${config.profileUrl}/v1/profile`));
    const key = device.name as 'laptop' | 'phone';
    before[key] = { orders: created === 201 ? listed : created, profile };
    check(created === 201 && listed === 200, `${device.name} could not use orders (POST ${created}, GET ${listed})`);
    check(profile === 200, `${device.name} could not read its profile (${profile})`);
    say(`  ${created === 201 && profile === 200 ? OK : NO} ${device.name.padEnd(6)} POST /v1/orders ${created}, GET /v1/orders ${listed}, GET /v1/profile ${profile}`);
  }

  // 3. Logout of one device
  say(bold('3. The laptop logs out; its access token (copied, as a thief would) is presented again'));
  const logoutStarted = performance.now();
  await laptop.client.logout();
  const loggedOutAt = performance.now();
  say(
    `  ${OK} POST /v1/logout answered in ${ms(loggedOutAt - logoutStarted)}; without revocation the copied token would work ${remaining(laptopToken)} more`,
  );
  const logoutRejections = await withSpinner(
    'polling orders and profile with the laptop token until they reject it',
    measureRejection(laptopToken, loggedOutAt),
  );
  showRejections("the laptop's", logoutRejections);
  say(`     ${dim('(time from the logout response to the first 401, polling each service back to back)')}`);
  for (const service of SERVICES) {
    check(logoutRejections[service].rejected, `${service} did not reject the logged-out laptop's token`);
  }
  const otherDevice = {
    orders: await statusOf(phone.client.fetch(`${config.ordersUrl}/v1/orders`)),
    profile: await statusOf(phone.client.fetch(`${config.profileUrl}/v1/profile`)),
  };
  const otherDeviceKeptWorking = otherDevice.orders === 200 && otherDevice.profile === 200;
  check(otherDeviceKeptWorking, `the phone stopped working after the laptop's logout (${JSON.stringify(otherDevice)})`);
  say(`  ${otherDeviceKeptWorking ? OK : NO} the phone keeps working: orders ${otherDevice.orders}, profile ${otherDevice.profile}`);

  // 4. Logout everywhere
  say(bold('4. The laptop logs in again; then the phone logs out everywhere'));
  await laptop.client.login({ email, password });
  const laptopToken2 = await laptop.client.getAccessToken();
  const phoneToken = await phone.client.getAccessToken();
  const sessionsBefore = await phone.client.sessions();
  say(`  ${OK} ${sessionsBefore.length} active sessions`);
  await phone.client.logoutAll();
  const allOutAt = performance.now();
  const [laptopAfterAll, phoneAfterAll] = await withSpinner(
    'polling both services with both devices’ tokens',
    Promise.all([measureRejection(laptopToken2, allOutAt), measureRejection(phoneToken, allOutAt)]),
  );
  showRejections("the laptop's", laptopAfterAll);
  showRejections("the phone's", phoneAfterAll);
  const allRejected = SERVICES.every((s) => laptopAfterAll[s].rejected && phoneAfterAll[s].rejected);
  check(allRejected, 'logout-all did not reject every device on every service');

  // 5. Refresh-token replay
  say(bold('5. A stolen refresh token is replayed after the device moved on'));
  const tablet = new Device('tablet', config);
  await tablet.client.login({ email, password });
  const stolen = await tablet.store.get();
  // Two rotations: the stolen token's successor is spent too, so no grace window applies
  // (a duplicate within REFRESH_REUSE_GRACE_SECONDS of an unused successor gets that successor).
  await tablet.client.refresh();
  await tablet.client.refresh();
  const tabletToken = await tablet.client.getAccessToken();
  say(`  ${OK} tablet logged in and refreshed twice (its refresh token rotated each time)`);
  const reuseCountBefore = await reuseDetections(config.authUrl);
  const replay = await fetch(`${config.authUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stolen ?? '' }).toString(),
  });
  const replayedAt = performance.now();
  const replayBody = (await replay.json().catch(() => ({}))) as { error?: unknown; error_description?: unknown; reason?: unknown };
  const replayError = typeof replayBody.error === 'string' ? replayBody.error : null;
  const replayReason = typeof replayBody.reason === 'string' ? replayBody.reason : null;
  const reuseRejections = await withSpinner(
    "polling both services with the tablet's access token",
    measureRejection(tabletToken, replayedAt),
  );
  const reuseCountAfter = await reuseDetections(config.authUrl);
  const counted = reuseCountBefore !== null && reuseCountAfter !== null && reuseCountAfter > reuseCountBefore;
  const refusedAsReuse = replay.status === 400 && replayError === 'invalid_grant' && replayReason === 'reuse_detected';
  say(
    `  ${refusedAsReuse ? OK : NO} the thief's refresh is refused: ${replay.status} ${replayError ?? ''}, reason ${replayReason ?? '(none)'}`,
  );
  say(
    `  ${counted ? OK : NO} the auth service detected the reuse and revoked the session ${dim(`(revocable_auth_refreshes_total{result="reuse_detected"} ${reuseCountBefore ?? '?'} → ${reuseCountAfter ?? '?'})`)}`,
  );
  showRejections("the tablet's", reuseRejections);
  let errorCode: string | null = null;
  let errorReason: string | null = null;
  try {
    await tablet.client.refresh();
  } catch (error) {
    errorCode = error instanceof RevocableClientError ? error.code : String(error);
    errorReason = error instanceof RevocableClientError ? (error.reason ?? null) : null;
  }
  const sessionEndedReason = tablet.ended[0]?.reason ?? null;
  const detected =
    refusedAsReuse &&
    counted &&
    sessionEndedReason !== null &&
    SERVICES.every((s) => reuseRejections[s].rejected);
  check(detected, 'refresh-token reuse did not revoke the session everywhere');
  say(
    `  ${detected ? OK : NO} the whole session is revoked: the tablet's own refresh now fails (${errorCode}, reason ${errorReason ?? '(none)'}), onSessionEnded fired (${sessionEndedReason})`,
  );

  const summary: DemoSummary = {
    ok: failures.length === 0,
    urls,
    user: email,
    before,
    logout: { device: 'laptop', sid: laptopSid, rejectedBy: logoutRejections, otherDevice, otherDeviceKeptWorking },
    logoutAll: { rejected: { laptop: laptopAfterAll, phone: phoneAfterAll }, allRejected },
    reuse: {
      replayStatus: replay.status,
      replayError,
      replayReason,
      reuseDetectionsCounted: counted,
      detected,
      sessionEndedReason,
      errorCode,
      errorReason,
      rejectedBy: reuseRejections,
    },
    failures,
  };

  say();
  if (summary.ok) {
    const times = [
      ...SERVICES.map((s) => logoutRejections[s].ms),
      ...SERVICES.map((s) => laptopAfterAll[s].ms),
      ...SERVICES.map((s) => phoneAfterAll[s].ms),
      ...SERVICES.map((s) => reuseRejections[s].ms),
    ].filter((v): v is number => v !== null);
    say(`${OK} ${bold('Every revocation reached both services')}: slowest ${ms(Math.max(...times))}, fastest ${ms(Math.min(...times))}.`);
  } else {
    say(`${NO} ${bold('Some facts did not hold:')}`);
    for (const failure of failures) say(`  - ${failure}`);
  }
  say(`  Explore: ${urls.docs}   Metrics: ${urls.metrics.join('  ')}`);
  say(`  Stop the cluster: ${bold('./infra/revocable down')}`);
  if (config.json) say(JSON.stringify(summary));
  return summary.ok ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (error) {
  const text =
    error instanceof RevocableClientError
      ? `${error.name} ${error.code}${error.status ? ` (HTTP ${error.status})` : ''}: ${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
  const hint =
    error instanceof RateLimitedError
      ? `The auth service limits logins per IP; run the demo again in ${error.retryAfterSeconds ?? 60} s.`
      : error instanceof NetworkError || error instanceof TimeoutError
        ? 'Is the cluster up? Start it with ./infra/revocable up'
        : 'The services\' logs are in infra/.run/*.log (./infra/revocable up).';
  process.stderr.write(`\ndemo failed: ${text}\n${hint}\n`);
  process.exitCode = 1;
}
