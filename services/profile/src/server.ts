import { runService } from '@revocable/kit';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';

await runService({ name: 'profile', loadConfig, buildApp: (config) => buildApp(config), warnings: (config) => [config.verifier.kafkaSecurity.warning] });
