export {
  DEFAULT_DENYLIST_CAPS,
  Denylist,
  DenylistError,
  type DenylistCaps,
  type DenialKind,
  type DenylistErrorCode,
  type DenylistOptions,
  type DenylistSize,
  type PreparedTokenRef,
  type TokenRef,
} from './denylist.ts';
export { createIdHasher, type IdHash64, type IdHasher } from './hash.ts';
