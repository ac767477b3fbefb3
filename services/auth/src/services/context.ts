import type { Logger } from '@revocable/protocol';
import type { AuthMetrics } from '../metrics.ts';

/** What the auth services take besides their own collaborators: metrics, a logger, the injected clock (epoch ms). */
export interface ServiceContext {
  metrics?: AuthMetrics | undefined;
  log?: Pick<Logger, 'info' | 'warn'> | undefined;
  now: () => number;
}
