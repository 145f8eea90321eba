import type { InjectionToken, Provider } from '@nestjs/common';

/**
 * The options section of one capability: where it sits in `CoordinationModuleOptions`, the
 * class-validator schema that checks it at startup, and how defaults are applied. The resolved
 * section is provided under `token`, so the capability's services inject it instead of reading
 * the raw module options.
 */
export interface CapabilityOptions<Key extends string = string, Options = unknown, Resolved = unknown> {
  /** Property of `CoordinationModuleOptions`, e.g. `locks`. */
  readonly key: Key;
  /** class-validator schema of the section; unknown properties are rejected by name. */
  readonly schema: new () => object;
  /** Injection token of the resolved section. */
  readonly token: symbol;
  /** Applies the defaults to a section that passed `schema` (absent: every default). */
  resolve(section: Options | undefined): Resolved;
}

/**
 * One capability (locks, rate limits, events, health, ...) as `CoordinationModule` registers
 * it: the module loops over the list in `capabilities.ts`, validates each options section,
 * provides the resolved section under its token, then registers `providers` and exports
 * `exports`. Adding a capability means writing its folder and adding it to that list.
 *
 * @example
 * export const LOCKS_CAPABILITY = {
 *   name: 'locks',
 *   options: { key: 'locks', schema: LockOptionsSchema, token: LOCK_OPTIONS, resolve: resolveLockOptions },
 *   providers: [{ provide: LOCK_STORE, inject: [CoordinationCore], useFactory: createLockStore }, LockService],
 *   exports: [LockService],
 * } as const satisfies CoordinationCapability<'locks', LockModuleOptions, ResolvedLockOptions>;
 */
export interface CoordinationCapability<Key extends string = string, Options = unknown, Resolved = unknown> {
  /** Names the capability in logs and docs. */
  readonly name: string;
  readonly options?: CapabilityOptions<Key, Options, Resolved>;
  readonly providers: readonly Provider[];
  /** What the module exports to the application (the options token is exported too). */
  readonly exports: readonly InjectionToken[];
}

/** `{ [key]?: Options }` of one capability; `{}` for one without options. */
type SectionOf<C> = C extends { readonly options: CapabilityOptions<infer K, infer O, unknown> } ? { [P in K]?: O } : unknown;

/** The options sections of a list of capabilities, as one object type (see CoordinationModuleOptions). */
export type CapabilitySections<List extends readonly unknown[]> = List extends readonly [infer Head, ...infer Rest]
  ? SectionOf<Head> & CapabilitySections<Rest>
  : unknown;
