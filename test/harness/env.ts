/**
 * Where the Redis servers started by globalSetup live, for test files.
 * globalSetup exports them through env vars, which Jest workers inherit.
 */
export function testRedisUrl(): string {
  return required('COORD_TEST_REDIS_URL');
}

export function testClusterNodes(): { host: string; port: number }[] {
  return required('COORD_TEST_CLUSTER_NODES')
    .split(',')
    .map((node) => {
      const at = node.lastIndexOf(':');
      return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
    });
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: it is exported by test/harness/global-setup.ts. ` +
        'Run the tests through Jest with the root jest.config.js (npm test).',
    );
  }
  return value;
}
