import type { AuthConfig } from './config.ts';
import { AuthError } from './errors.ts';
import type { AuthMetrics } from './metrics.ts';
import type { PasswordHasher } from './password.ts';

/** Which lane a piece of password work waits in: logins and password changes go first. */
export type HashLane = 'login' | 'register';

/** Options for {@link HashQueue}. */
export interface HashQueueOptions {
  /**
   * PASSWORD_HASH_CONCURRENCY: scrypt computations at once (each runs on a libuv thread and
   * takes one core for its duration). Default in config: `os.availableParallelism()`.
   */
  concurrency: number;
  /** PASSWORD_HASH_QUEUE_MAX: logins and password changes waiting beyond that get 503. */
  maxWaitingLogin: number;
  /** PASSWORD_HASH_REGISTER_QUEUE_MAX: registrations waiting beyond that get 503. */
  maxWaitingRegister: number;
  /** Called when work starts (the `revocable_auth_password_work_total` metric). */
  onStart?: (lane: HashLane, op: 'hash' | 'verify') => void;
  /** Called when work is refused because its lane is full. */
  onRejected?: (lane: HashLane) => void;
  /** Reports the lane depths after every change (gauges). */
  onDepth?: (running: number, waitingLogin: number, waitingRegister: number) => void;
  now?: () => number;
}

interface Waiter {
  start: () => void;
}

/**
 * A bounded queue in front of the password hasher. At most `concurrency` scrypt runs at
 * once; the rest wait in two lanes, logins first. Registrations never take the last
 * worker while logins wait or could arrive (at most `concurrency - 1` of them run at
 * once when `concurrency > 1`), so a registration flood cannot starve logins. A full lane
 * answers at once with `ERR_AUTH_BUSY` (503, `Retry-After`): the caller is told quickly
 * instead of queueing behind seconds of CPU work.
 */
export class HashQueue {
  readonly #o: HashQueueOptions;
  readonly #login: Waiter[] = [];
  readonly #register: Waiter[] = [];
  #running = 0;
  #runningRegister = 0;
  // Exponential moving average of one computation, for Retry-After.
  #avgMs = 100;

  constructor(options: HashQueueOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    this.#o = options;
  }

  /** Work running and waiting now. */
  depth(): { running: number; waitingLogin: number; waitingRegister: number } {
    return { running: this.#running, waitingLogin: this.#login.length, waitingRegister: this.#register.length };
  }

  /** Runs `work` when a worker of its lane is free; throws ERR_AUTH_BUSY when the lane is full. */
  async run<T>(lane: HashLane, op: 'hash' | 'verify', work: () => Promise<T>): Promise<T> {
    await this.#acquire(lane);
    this.#o.onStart?.(lane, op);
    const now = this.#o.now ?? Date.now;
    const started = now();
    try {
      return await work();
    } finally {
      this.#avgMs = this.#avgMs * 0.8 + Math.max(1, now() - started) * 0.2;
      this.#release(lane);
    }
  }

  /** Wraps a hasher: `hash` in the registration lane (registration only hashes), verifications in the login lane. */
  wrap(inner: PasswordHasher, hashLane: HashLane = 'register'): PasswordHasher {
    return {
      hash: (password) => this.run(hashLane, 'hash', () => inner.hash(password)),
      verify: (password, stored) => this.run('login', 'verify', () => inner.verify(password, stored)),
      verifyDummy: (password) => this.run('login', 'verify', () => inner.verifyDummy(password)),
      prepare: () => inner.prepare(),
    };
  }

  #registerCap(): number {
    return this.#o.concurrency > 1 ? this.#o.concurrency - 1 : 1;
  }

  #canStart(lane: HashLane): boolean {
    if (this.#running >= this.#o.concurrency) return false;
    if (lane === 'register') return this.#login.length === 0 && this.#runningRegister < this.#registerCap();
    return true;
  }

  #acquire(lane: HashLane): Promise<void> {
    const queue = lane === 'login' ? this.#login : this.#register;
    // Nobody waiting ahead in this lane and a worker free: start now.
    if (queue.length === 0 && this.#canStart(lane)) {
      this.#take(lane);
      return Promise.resolve();
    }
    const max = lane === 'login' ? this.#o.maxWaitingLogin : this.#o.maxWaitingRegister;
    if (queue.length >= max) {
      this.#o.onRejected?.(lane);
      const waiting = this.#login.length + this.#register.length + this.#running;
      const seconds = Math.max(1, Math.ceil((waiting * this.#avgMs) / this.#o.concurrency / 1000));
      throw new AuthError('ERR_AUTH_BUSY', 'the service is busy hashing passwords, retry later', { retryAfterSeconds: seconds });
    }
    return new Promise<void>((resolve) => {
      queue.push({ start: resolve });
      this.#report();
    });
  }

  #take(lane: HashLane): void {
    this.#running++;
    if (lane === 'register') this.#runningRegister++;
    this.#report();
  }

  #release(lane: HashLane): void {
    this.#running--;
    if (lane === 'register') this.#runningRegister--;
    // Logins first; a registration only when no login waits and its share allows.
    while (this.#running < this.#o.concurrency) {
      if (this.#login.length > 0) {
        this.#take('login');
        (this.#login.shift() as Waiter).start();
      } else if (this.#register.length > 0 && this.#canStart('register')) {
        this.#take('register');
        (this.#register.shift() as Waiter).start();
      } else break;
    }
    this.#report();
  }

  #report(): void {
    this.#o.onDepth?.(this.#running, this.#login.length, this.#register.length);
  }
}

/** The queue of PASSWORD_HASH_CONCURRENCY / PASSWORD_HASH_QUEUE_MAX / PASSWORD_HASH_REGISTER_QUEUE_MAX, feeding the metrics. */
export function hashQueueFromConfig(config: AuthConfig, metrics: AuthMetrics): HashQueue {
  const h = config.hardening;
  return new HashQueue({
    concurrency: h.passwordHashConcurrency,
    maxWaitingLogin: h.passwordHashQueueMax,
    maxWaitingRegister: h.passwordHashRegisterQueueMax,
    onStart: (lane, op) => metrics.passwordWork.inc({ lane, op }),
    onRejected: (lane) => metrics.passwordRejected.inc({ lane }),
    onDepth: (running, waitingLogin, waitingRegister) => {
      metrics.passwordQueue.set({ state: 'running' }, running);
      metrics.passwordQueue.set({ state: 'waiting_login' }, waitingLogin);
      metrics.passwordQueue.set({ state: 'waiting_register' }, waitingRegister);
    },
  });
}
