// Runs ioredis and node-redis against a server: MULTI/EXEC, EVALSHA with
// several keys, and a script that touches keys it did not declare. Keys are
// many names, so with several shards they live on different ones.
// Usage: node clients.js PORT. Prints "ok <n>" and exits 0, or throws.
'use strict';
const assert = require('assert');
const IORedis = require('ioredis');
const { createClient } = require('redis');

const port = Number(process.argv[2]);
const KEYS = Array.from({ length: 8 }, (_, i) => `node:k${i}`);
const MOVE = `
local a = tonumber(redis.call('GET', KEYS[1]) or '0')
local b = tonumber(redis.call('GET', KEYS[2]) or '0')
redis.call('SET', KEYS[1], a - ARGV[1])
redis.call('SET', KEYS[2], b + ARGV[1])
return a - ARGV[1] + b + ARGV[1]`;
const UNDECLARED = `
redis.call('SET', 'node:undeclared:1', ARGV[1])
return redis.call('GET', 'node:undeclared:1')`;

async function withIORedis() {
  const r = new IORedis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    await r.flushall();
    // MULTI/EXEC over keys of many shards
    const tx = r.multi();
    KEYS.forEach((k, i) => tx.set(k, String(i)));
    tx.mget(...KEYS);
    tx.incr(KEYS[0]);
    const res = await tx.exec();
    assert.strictEqual(res.length, KEYS.length + 2);
    res.forEach(([err]) => assert.strictEqual(err, null));
    assert.deepStrictEqual(res[KEYS.length][1], KEYS.map((_, i) => String(i)));
    assert.strictEqual(res[KEYS.length + 1][1], 1);
    // WATCH: a change by another connection aborts EXEC (null result)
    const other = new IORedis({ host: '127.0.0.1', port });
    await r.watch(KEYS[3]);
    await other.set(KEYS[3], 'changed');
    const aborted = await r.multi().set(KEYS[3], 'mine').exec();
    assert.strictEqual(aborted, null);
    assert.strictEqual(await r.get(KEYS[3]), 'changed');
    other.disconnect();
    // EVALSHA with several keys, through defineCommand (EVALSHA, then EVAL)
    r.defineCommand('move', { numberOfKeys: 2, lua: MOVE });
    await r.set(KEYS[4], '100');
    await r.set(KEYS[5], '100');
    for (let i = 0; i < 5; i++) {
      assert.strictEqual(await r.move(KEYS[4], KEYS[5], 7), 200);
    }
    assert.strictEqual(await r.get(KEYS[4]), String(100 - 35));
    // a script with keys it did not declare
    r.defineCommand('undeclared', { numberOfKeys: 0, lua: UNDECLARED });
    assert.strictEqual(await r.undeclared('v1'), 'v1');
    assert.strictEqual(await r.undeclared('v2'), 'v2');
    // pipelining many commands keeps their order
    const p = r.pipeline();
    for (let i = 0; i < 200; i++) p.incr(KEYS[i % KEYS.length]);
    const pr = await p.exec();
    assert.strictEqual(pr.length, 200);
    return 1;
  } finally {
    r.disconnect();
  }
}

async function withNodeRedis() {
  const c = createClient({ socket: { host: '127.0.0.1', port } });
  await c.connect();
  try {
    const res = await c.multi().set(KEYS[0], 'a').set(KEYS[1], 'b').mGet([KEYS[0], KEYS[1]]).exec();
    assert.deepStrictEqual(res, ['OK', 'OK', ['a', 'b']]);
    const sha = await c.scriptLoad(MOVE);
    await c.mSet([KEYS[2], '10', KEYS[6], '10']);
    assert.strictEqual(await c.evalSha(sha, { keys: [KEYS[2], KEYS[6]], arguments: ['3'] }), 20);
    assert.strictEqual(await c.get(KEYS[6]), '13');
    assert.strictEqual(await c.eval(UNDECLARED, { arguments: ['nr'] }), 'nr');
    // WATCH through an isolated connection
    const watcher = await c.executeIsolated(async (iso) => {
      await iso.watch(KEYS[7]);
      await c.set(KEYS[7], 'other');
      try {
        await iso.multi().set(KEYS[7], 'mine').exec();
        return 'ran';
      } catch (e) {
        return `${e.name}: ${e.message}`;
      }
    });
    assert.match(watcher, /watch/i);
    return 1;
  } finally {
    await c.quit();
  }
}

(async () => {
  const n = (await withIORedis()) + (await withNodeRedis());
  console.log(`ok ${n}`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
