/** Injection token of the raw options passed to `forRoot()` / produced by `forRootAsync()`. */
export const COORDINATION_MODULE_OPTIONS = Symbol('COORDINATION_MODULE_OPTIONS');
/** Injection token of the validated options with defaults applied. */
export const COORDINATION_RESOLVED_OPTIONS = Symbol('COORDINATION_RESOLVED_OPTIONS');
