export * from './schema.ts';
export type * from './transport.ts';
