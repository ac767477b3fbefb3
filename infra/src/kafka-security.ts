/**
 * The secured bus: SASL/SCRAM-SHA-512 principals and the ACLs of the revocation topic.
 *
 * Principals (SCRAM users, bootstrapped into the KRaft metadata at format time):
 *  - `admin`: the broker's own principal and the operator's; a super user (no ACL applies).
 *  - `auth`: the auth service. The only principal that may write the revocation topic (and
 *    create it, describe and raise its configs, add partitions); it reads `<topic>.receipts`.
 *  - `orders`, `profile`, `gate`: resource services. Read the revocation topic; write (and
 *    create) `<topic>.receipts`.
 * Every other principal, and every client without credentials, can neither read nor write
 * (`allow.everyone.if.no.acl.found=false`; the PLAINTEXT listener is gone).
 */
import { randomBytes } from 'node:crypto';
import { InfraError } from './errors.ts';

/** The principals of a secured broker. */
export const BUS_PRINCIPALS = ['admin', 'auth', 'orders', 'profile', 'gate'] as const;
export type BusPrincipal = (typeof BUS_PRINCIPALS)[number];
/** The resource-service principals (read the topic, write the receipts topic). */
export const RESOURCE_PRINCIPALS = ['orders', 'profile', 'gate'] as const satisfies readonly BusPrincipal[];

/** One SCRAM user. */
export interface BusUser {
  username: string;
  password: string;
}

/** The SCRAM credentials of a secured broker: one user per {@link BusPrincipal}. */
export interface BusCredentials {
  mechanism: 'SCRAM-SHA-512';
  users: Record<BusPrincipal, BusUser>;
}

/** Fresh random credentials (usernames are the principal names). */
export function generateBusCredentials(): BusCredentials {
  const users = Object.fromEntries(BUS_PRINCIPALS.map((name) => [name, { username: name, password: randomBytes(24).toString('base64url') }])) as Record<BusPrincipal, BusUser>;
  return { mechanism: 'SCRAM-SHA-512', users };
}

/** The client environment of one principal (what the services' kit config parses). */
export function busClientEnv(credentials: BusCredentials, principal: BusPrincipal): Record<string, string> {
  const user = credentials.users[principal];
  return { KAFKA_SASL_MECHANISM: credentials.mechanism, KAFKA_USERNAME: user.username, KAFKA_PASSWORD: user.password };
}

/** The transport connection options (`sasl`) of one principal, for `createTransport`. */
export function busSasl(credentials: BusCredentials, principal: BusPrincipal): { mechanism: 'SCRAM-SHA-512'; username: string; password: string } {
  const user = credentials.users[principal];
  return { mechanism: credentials.mechanism, username: user.username, password: user.password };
}

/** Checks a credentials object read from disk; throws `ERR_INFRA_CONFIG` naming the file. */
export function assertBusCredentials(value: unknown, where: string): asserts value is BusCredentials {
  const v = value as Partial<BusCredentials> | null;
  const ok =
    v !== null &&
    typeof v === 'object' &&
    v.mechanism === 'SCRAM-SHA-512' &&
    typeof v.users === 'object' &&
    v.users !== null &&
    BUS_PRINCIPALS.every((p) => {
      const u = (v.users as Record<string, Partial<BusUser> | undefined>)[p];
      return typeof u?.username === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(u.username) && typeof u.password === 'string' && /^[A-Za-z0-9_-]{16,}$/.test(u.password);
    });
  if (!ok) throw new InfraError('ERR_INFRA_CONFIG', `${where}: the Kafka credentials are malformed; delete them (./infra/revocable reset) to generate new ones`);
}

/** One ACL binding: allow `principal` `operations` on a topic (literal name) or on consumer groups (name prefix). */
export interface BusAcl {
  principal: BusPrincipal;
  resource: 'TOPIC' | 'GROUP';
  /** Topic name (literal), or group-id prefix. */
  name: string;
  operations: ReadonlyArray<'READ' | 'WRITE' | 'CREATE' | 'DELETE' | 'DESCRIBE' | 'DESCRIBE_CONFIGS' | 'ALTER_CONFIGS' | 'ALTER'>;
}

/** Group-id prefix of the kafkajs adapter's private broadcast groups (`revocable-broadcast-<clientId>-<uuid>`). */
export const BROADCAST_GROUP_PREFIX = 'revocable-broadcast-';

/**
 * The ACLs of one revocation topic and its receipts topic (literal names, so another topic
 * on the same broker gets nothing): auth writes the topic and reads the receipts, each
 * resource principal reads the topic and writes the receipts. Readers may also join, describe
 * and delete their own private broadcast groups (the kafkajs adapter reads through one).
 */
export function busAcls(topic: string, receiptsTopic = `${topic}.receipts`): BusAcl[] {
  const groups = (principal: BusPrincipal): BusAcl => ({ principal, resource: 'GROUP', name: `${BROADCAST_GROUP_PREFIX}`, operations: ['READ', 'DESCRIBE', 'DELETE'] });
  return [
    { principal: 'auth', resource: 'TOPIC', name: topic, operations: ['WRITE', 'CREATE', 'DESCRIBE', 'DESCRIBE_CONFIGS', 'ALTER_CONFIGS', 'ALTER'] },
    { principal: 'auth', resource: 'TOPIC', name: receiptsTopic, operations: ['READ', 'DESCRIBE', 'CREATE', 'DESCRIBE_CONFIGS'] },
    groups('auth'),
    ...RESOURCE_PRINCIPALS.flatMap((principal): BusAcl[] => [
      { principal, resource: 'TOPIC', name: topic, operations: ['READ', 'DESCRIBE'] },
      { principal, resource: 'TOPIC', name: receiptsTopic, operations: ['WRITE', 'DESCRIBE', 'CREATE', 'DESCRIBE_CONFIGS'] },
      groups(principal),
    ]),
  ];
}

// Kafka protocol values (the library's ResourceTypes, ResourcePatternTypes, AclOperations, AclPermissionTypes).
const RESOURCE = { TOPIC: 2, GROUP: 3 } as const;
const LITERAL = 3;
const PREFIXED = 4;
const ALLOW = 3;
const OPERATION = { READ: 3, WRITE: 4, CREATE: 5, DELETE: 6, ALTER: 7, DESCRIBE: 8, DESCRIBE_CONFIGS: 10, ALTER_CONFIGS: 11 } as const;

/**
 * Creates the {@link busAcls} of `topic` on a secured broker, as its `admin` super user
 * (idempotent: Kafka keeps one binding per distinct ACL). Throws `ERR_BROKER_START_FAILED`.
 *
 * @example
 * await grantBusAcls(['127.0.0.1:9092'], credentials, 'revocable.revocations');
 */
export async function grantBusAcls(brokers: readonly string[], credentials: BusCredentials, topic: string, receiptsTopic = `${topic}.receipts`): Promise<void> {
  const { Admin } = await import('@platformatic/kafka');
  const admin = new Admin({ clientId: 'revocable-acls', bootstrapBrokers: [...brokers], sasl: busSasl(credentials, 'admin'), retries: 3, retryDelay: 250, connectTimeout: 5000, timeout: 15_000, requestTimeout: 15_000 });
  try {
    await admin.createAcls({
      creations: busAcls(topic, receiptsTopic).flatMap((acl) =>
        acl.operations.map((operation) => ({
          resourceType: RESOURCE[acl.resource],
          resourceName: acl.name,
          resourcePatternType: acl.resource === 'TOPIC' ? LITERAL : PREFIXED,
          principal: `User:${credentials.users[acl.principal].username}`,
          host: '*',
          operation: OPERATION[operation],
          permissionType: ALLOW,
        })),
      ),
    });
  } catch (error) {
    throw new InfraError('ERR_BROKER_START_FAILED', `creating the ACLs of ${topic} failed: ${(error as Error).message}`, { cause: error });
  } finally {
    await admin.close().catch(() => undefined);
  }
}
