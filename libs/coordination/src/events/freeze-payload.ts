/** Throws like an assignment to a frozen object does, for the mutators of a shared Map or Set. */
function readOnly(this: Map<unknown, unknown> | Set<unknown>): never {
  throw new TypeError(`Cannot modify a ${this instanceof Map ? 'Map' : 'Set'} of a received event: it is shared by every observer (copy it first)`);
}

/** Own, non-enumerable, non-writable: invisible to iteration, equality checks and JSON, and impossible to undo. */
const MAP_LOCK: PropertyDescriptorMap = { set: { value: readOnly }, delete: { value: readOnly }, clear: { value: readOnly } };
const SET_LOCK: PropertyDescriptorMap = { add: { value: readOnly }, delete: { value: readOnly }, clear: { value: readOnly } };

/**
 * Freezes a decoded event payload and everything it holds, so that the observers sharing one
 * decoded event cannot change it under each other: assigning, adding or deleting a property of
 * an object or array throws a TypeError (ES modules run in strict mode), and so do `set`,
 * `add`, `delete` and `clear` of a Map or Set. `Object.freeze` cannot reach the internal data
 * of a Date, RegExp, typed array, Buffer, ArrayBuffer or DataView: those stay writable and are
 * read-only by contract. Depth is bounded by the serializer's `maxDepth`, checked while decoding.
 *
 * @example
 * const payload = freezePayload(serializer.decode(text));
 * payload.rows.push(row); // TypeError
 */
export function freezePayload<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  // Freezing a non-empty typed array throws; an ArrayBuffer or DataView has nothing to freeze.
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof RegExp) return value;
  if (Array.isArray(value)) {
    for (const item of value) freezePayload(item);
  } else if (value instanceof Map) {
    for (const [key, item] of value) {
      freezePayload(key);
      freezePayload(item);
    }
    Object.defineProperties(value, MAP_LOCK);
  } else if (value instanceof Set) {
    for (const item of value) freezePayload(item);
    Object.defineProperties(value, SET_LOCK);
  } else {
    // Decoded objects hold only own data properties; an Error's cause is a non-enumerable one.
    const keys = value instanceof Error ? Object.getOwnPropertyNames(value) : Object.keys(value);
    for (const key of keys) freezePayload((value as Record<string, unknown>)[key]);
  }
  return Object.freeze(value);
}
