import { randomUUID } from 'node:crypto';

export interface Order {
  id: string;
  /** `sub` of the user who placed it. */
  owner: string;
  item: string;
  quantity: number;
  /** Epoch milliseconds. */
  createdAt: number;
}

/** Thrown when a user already has the maximum number of orders. */
export class OrderLimitError extends Error {
  readonly code = 'ERR_ORDER_LIMIT';
  constructor(limit: number) {
    super(`at most ${limit} orders per user`);
    this.name = 'OrderLimitError';
  }
}

/** Orders per owner, in memory (one store per instance). */
export class OrderStore {
  readonly #byOwner = new Map<string, Map<string, Order>>();
  readonly #maxPerOwner: number;
  readonly #now: () => number;

  constructor(options: { maxPerOwner: number; now?: () => number }) {
    this.#maxPerOwner = options.maxPerOwner;
    this.#now = options.now ?? Date.now;
  }

  create(owner: string, input: { item: string; quantity: number }): Order {
    let orders = this.#byOwner.get(owner);
    if (orders === undefined) {
      orders = new Map();
      this.#byOwner.set(owner, orders);
    }
    if (orders.size >= this.#maxPerOwner) throw new OrderLimitError(this.#maxPerOwner);
    const order: Order = { id: randomUUID(), owner, item: input.item, quantity: input.quantity, createdAt: this.#now() };
    orders.set(order.id, order);
    return order;
  }

  list(owner: string): Order[] {
    return [...(this.#byOwner.get(owner)?.values() ?? [])];
  }

  /** The order if it exists and belongs to `owner`; other users' orders are invisible. */
  get(owner: string, id: string): Order | undefined {
    return this.#byOwner.get(owner)?.get(id);
  }

  delete(owner: string, id: string): boolean {
    const orders = this.#byOwner.get(owner);
    const deleted = orders?.delete(id) ?? false;
    if (orders !== undefined && orders.size === 0) this.#byOwner.delete(owner);
    return deleted;
  }
}
