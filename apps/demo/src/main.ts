import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { DEV_SESSION_SECRET, demoConfigFromEnv } from './demo.config.js';

const logger = new Logger('Demo');

async function bootstrap(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`PORT must be an integer between 0 and 65535, got ${JSON.stringify(process.env.PORT)}`);
  }
  const config = demoConfigFromEnv(process.env);
  if (config.coordination.driver === 'memory') {
    logger.warn('REDIS_URL is not set: using the in-memory driver (state is local to this process). Set REDIS_URL=redis://host:6379 to coordinate through Redis.');
  } else {
    logger.log(`REDIS_URL is set: using the redis driver (key prefix "${config.coordination.prefix}")`);
  }
  if ([config.coordination.sessions?.cookie?.secret].flat().includes(DEV_SESSION_SECRET)) {
    logger.warn('SESSION_SECRET is not set: session cookies are signed with the public development default (DEV_SESSION_SECRET). Set SESSION_SECRET (32+ characters) anywhere but your own machine.');
  }
  if (process.env.NODE_ENV === 'production' && config.http.trustedProxies.length === 0) {
    logger.warn('TRUSTED_PROXIES is not set: behind a proxy, every client has the proxy\'s address, and the login limit (20 a minute per client IP) is one limit for everybody. Set TRUSTED_PROXIES to the proxy\'s address or subnet.');
  }
  if (config.metrics.access === 'off') {
    logger.warn('METRICS_TOKEN is not set: GET /metrics is not served in production (it shows every company\'s tenant ids and activity). Set METRICS_TOKEN (16+ characters) and have Prometheus send it as a bearer token.');
  }
  const app = await NestFactory.create(AppModule.register(config));
  // SIGTERM / SIGINT run Nest's shutdown: running crew runs are aborted through their lock's signal
  // and their locks released once they stop. Supervisors must signal node itself: start
  // `node dist/apps/demo/src/main.js`, not `npm start` (npm does not reliably pass SIGTERM on).
  app.enableShutdownHooks();
  await app.listen(port);
  const address = app.getHttpServer().address() as { port: number } | string | null;
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  logger.log(`Demo listening on http://localhost:${boundPort} (try GET /health)`);
}

bootstrap().catch((error: unknown) => {
  logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
