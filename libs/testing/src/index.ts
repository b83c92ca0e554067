export { ensureTestServers, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, type TestServers } from './servers.js';
export { uniqueName, testRedis, testSchemaUrl, dropSchema } from './isolation.js';
export { tempSecretsDir, readStream, deleteKeys, type StreamEntry } from './fixtures.js';
export { startRedisCluster, type LocalRedisCluster } from './redis-cluster.js';
