import { loadLuaScript, type LuaScript } from '../../connection/lua-script.js';

/** The one script of the @nestjs/throttler storage, loaded once at import: a hit is one EVALSHA. */
export const THROTTLER_INCREMENT_SCRIPT: LuaScript = loadLuaScript('coordThrottlerIncrement', import.meta.url, './lua/throttler-increment.lua');
