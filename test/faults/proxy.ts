import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback that the nemesis can cut. Used between each verifier and the
 * broker (a network partition of one instance) and in front of the two auth instances
 * (the load balancer the verifiers fetch JWKS and introspect through: it tries the
 * upstreams in turn, so one dead auth instance is not an outage).
 *
 * While cut, open connections are reset and new ones are accepted and then held without a
 * byte forwarded (a black hole, like dropped packets); heal() resets the held ones too.
 */
export class TcpProxy {
  readonly #upstreams: ReadonlyArray<{ host: string; port: number }>;
  readonly #server: Server;
  readonly #open = new Set<Socket>();
  #cut = false;
  #next = 0;
  port = 0;

  constructor(upstreams: ReadonlyArray<{ host: string; port: number }>) {
    this.#upstreams = upstreams;
    this.#server = createServer((client) => this.#accept(client));
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = this.#server.address();
    if (typeof address !== 'object' || address === null) throw new Error('proxy has no address');
    this.port = address.port;
    return this.port;
  }

  get isCut(): boolean {
    return this.#cut;
  }

  cut(): void {
    this.#cut = true;
    for (const socket of this.#open) socket.destroy();
    this.#open.clear();
  }

  heal(): void {
    this.#cut = false;
    for (const socket of this.#open) socket.destroy();
    this.#open.clear();
  }

  async close(): Promise<void> {
    for (const socket of this.#open) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    client.on('error', () => undefined);
    this.#open.add(client);
    client.once('close', () => this.#open.delete(client));
    if (this.#cut) return; // held: nothing is forwarded
    const start = this.#next++ % this.#upstreams.length;
    this.#dial(client, start, 0);
  }

  #dial(client: Socket, index: number, tried: number): void {
    const target = this.#upstreams[(index + tried) % this.#upstreams.length];
    if (target === undefined || tried >= this.#upstreams.length) {
      client.destroy();
      return;
    }
    let connected = false;
    const upstream = connect({ host: target.host, port: target.port });
    this.#open.add(upstream);
    upstream.once('close', () => this.#open.delete(upstream));
    upstream.once('connect', () => {
      connected = true;
      if (client.destroyed || this.#cut) {
        upstream.destroy();
        return;
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', () => {
      if (!connected && !client.destroyed && !this.#cut) this.#dial(client, index, tried + 1);
      else client.destroy();
    });
    upstream.once('close', () => {
      if (connected) client.destroy();
    });
    client.once('close', () => upstream.destroy());
  }
}
