export { buildApp, type OrdersOverrides } from './app.ts';
export { loadConfig, type OrdersConfig } from './config.ts';
export { OrderStore, OrderLimitError, type Order } from './store.ts';
