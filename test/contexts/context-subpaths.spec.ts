import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

// The packages of GraphQL, WebSocket and microservice applications are optional peers: the core
// entry must load none of them, each subpath only its own. A plain ESM process on the built
// library (libs/coordination/dist, as every child process of the suite) records every module it
// resolves through a module hook, imports the entry, and prints the optional packages it saw.

const SCRIPT = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const resolved = [];
// The hook posts every URL it resolves, then 'done' for the marker imported last (one port: in order).
const done = new Promise((resolve) => port1.on('message', (url) => (url === 'done' ? resolve() : resolved.push(url))));
register('data:text/javascript,' + encodeURIComponent(\`
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  if (specifier === 'coordination:done') {
    port.postMessage('done');
    return { url: 'data:text/javascript,export default 1', shortCircuit: true };
  }
  const result = await next(specifier, context);
  port.postMessage(result.url);
  return result;
}\`), { data: { port: port2 }, transferList: [port2] });
await import(process.argv[1]);
await import('coordination:done');
await done;
port1.close();
const optional = /\\/node_modules\\/((?:@nestjs\\/(?:graphql|apollo|websockets|microservices|platform-socket\\.io|throttler))|graphql|socket\\.io|@apollo\\/server)\\//;
console.log(JSON.stringify([...new Set(resolved.map((url) => optional.exec(url)?.[1]).filter(Boolean))].sort()));
`;

async function optionalPackagesLoadedBy(entry: string): Promise<string[]> {
  // The repository root: node resolves the package through node_modules/@nest-coordination/core.
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', SCRIPT, entry], { cwd: process.cwd() });
  return JSON.parse(stdout) as string[];
}

describe('optional peers of GraphQL, WebSocket and microservice applications', () => {
  it('the core entry loads none of them', async () => {
    expect(await optionalPackagesLoadedBy('@nest-coordination/core')).toEqual([]);
  });

  it('@nest-coordination/core/websockets loads @nestjs/websockets only', async () => {
    expect(await optionalPackagesLoadedBy('@nest-coordination/core/websockets')).toEqual(['@nestjs/websockets']);
  });

  it('@nest-coordination/core/microservices loads @nestjs/microservices only', async () => {
    expect(await optionalPackagesLoadedBy('@nest-coordination/core/microservices')).toEqual(['@nestjs/microservices']);
  });
});
