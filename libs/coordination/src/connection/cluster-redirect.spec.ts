import { ReplyError } from 'ioredis';
import { isClusterRedirect, isSlotInMotion } from './cluster-redirect.js';
import { isTransportError } from './redis-errors.js';

describe('isClusterRedirect', () => {
  it.each([
    'MOVED 3353 127.0.0.1:7001',
    'ASK 3353 127.0.0.1:7002',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'CLUSTERDOWN The cluster is down',
    'All keys in the pipeline should belong to the same slots allocation group',
  ])('takes %j for a command that did not run', (message) => {
    expect(isClusterRedirect(new ReplyError(message))).toBe(true);
  });

  it.each([
    'ERR Error running script: MOVED is not a command', // a script's own error text is not a redirection
    'WRONGTYPE Operation against a key holding the wrong kind of value',
    'NOSCRIPT No matching script. Please use EVAL.',
    'ERR Script attempted to access a non local key in a cluster node', // the script ran, in part
  ])('does not take %j', (message) => {
    expect(isClusterRedirect(new ReplyError(message))).toBe(false);
  });

  it('is false for anything but an Error', () => {
    expect(isClusterRedirect('MOVED 1 127.0.0.1:1')).toBe(false);
    expect(isClusterRedirect(undefined)).toBe(false);
  });
});

describe('isTransportError on cluster changes', () => {
  it.each([
    'MOVED 3353 127.0.0.1:7001',
    'ASK 3353 127.0.0.1:7002',
    'Too many Cluster redirections. Last error: ReplyError: ASK 3353 127.0.0.1:7002',
    'ERR Script attempted to access a non local key in a cluster node script: 9eb5, on @user_script:132.',
    'All keys in the pipeline should belong to the same slots allocation group',
  ])('counts %j as Redis being unavailable for the call (a typed RedisUnavailableError)', (message) => {
    expect(isTransportError(new Error(message))).toBe(true);
  });

  it('leaves reply errors of a command that ran as they are', () => {
    expect(isTransportError(new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(false);
  });
});

describe('isSlotInMotion', () => {
  it.each([
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'ASK 3353 127.0.0.1:7002',
    'MOVED 3353 127.0.0.1:7001',
    'Too many Cluster redirections. Last error: ReplyError: TRYAGAIN Multiple keys request during rehashing of slot',
    'Too many Cluster redirections. Last error: ReplyError: MOVED 3353 127.0.0.1:7001',
    'Too many Cluster redirections. Last error: ReplyError: NOSCRIPT No matching script. Please use EVAL.',
    'ERR Script attempted to access a non local key in a cluster node script: 9eb5, on @user_script:132.',
    'All keys in the pipeline should belong to the same slots allocation group',
  ])('takes %j for a node that answered (not a breaker failure)', (message) => {
    expect(isSlotInMotion(new ReplyError(message))).toBe(true);
  });

  it.each([
    'CLUSTERDOWN The cluster is down',
    'Too many Cluster redirections. Last error: Error: Connection is closed.',
    'Connection is closed.',
    'Command timed out',
  ])('does not take %j: the cluster or the connection is down', (message) => {
    expect(isSlotInMotion(new Error(message))).toBe(false);
  });
});
