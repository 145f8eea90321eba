export { DEFAULT_SERIALIZER_OPTIONS, isCompressed, Serializer } from './serializer.js';
export type { SerializerOptions } from './serializer.js';
export { DeserializationError, SerializationError } from './serialization.errors.js';
