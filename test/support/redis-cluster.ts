/**
 * A throwaway 3-master Redis Cluster for the end-to-end tests: local
 * `redis-server` processes in cluster mode (config files in a temp directory,
 * no persistence) joined by `redis-cli --cluster create`. The helper lives in
 * the shared test library, so the bus's own cluster tests use the same one.
 */
export { startRedisCluster, type LocalRedisCluster } from '@caracal-rotation/testing';
