export { ensureTestServers, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, type TestServers } from './servers.js';
export { uniqueName, testRedis, testSchemaUrl, dropSchema } from './isolation.js';
export { tempSecretsDir, readStream, deleteKeys, type StreamEntry } from './fixtures.js';
export { startRedisCluster, type LocalRedisCluster } from './redis-cluster.js';
export { startKubernetesApiDouble, kubeStatus, type KubeHandler, type KubeRequest, type KubeResponse, type KubernetesApiDouble, type KubernetesApiDoubleOptions } from './kubernetes-api/server.js';
export {
  createWorkloadsDouble,
  type WorkloadsDouble,
  type WorkloadsDoubleOptions,
  type WorkloadSpec,
  type WorkloadBehaviour,
  type PodObject,
  type WorkloadObject,
} from './kubernetes-api/workloads.js';
export type { PodAction, SimWorkload } from './kubernetes-api/workload-controllers.js';
export {
  startDockerEngineDouble,
  ENGINE_API_VERSION,
  type DockerEngineDouble,
  type DockerEngineDoubleOptions,
  type EngineInterceptor,
  type EngineRequest,
  type EngineResponse,
} from './docker-engine/server.js';
export { SupervisedContainer, type ContainerSpec, type ContainerStatus } from './docker-engine/container.js';
export { formatRfc3339Nano, ZERO_TIME } from './docker-engine/timestamps.js';
export { createSecretsApi, MAX_SECRET_BYTES, type SecretsApi, type SecretObject, type SecretVerb, type SeedSecret } from './kubernetes-api/secrets.js';
export { startPrivateRedis, type PrivateRedis } from './private-redis.js';
