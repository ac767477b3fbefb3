export { buildApp, type ProfileOverrides } from './app.ts';
export { loadConfig, type ProfileConfig } from './config.ts';
