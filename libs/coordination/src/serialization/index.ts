export { DEFAULT_SERIALIZER_OPTIONS, isCompressed, MAX_DEPTH, Serializer } from './serializer.js';
export type { SerializerOptions } from './serializer.js';
export { DeserializationError, SerializationError } from './serialization.errors.js';
