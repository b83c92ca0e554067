export { startStack, sandboxHolders, type Stack, type StackOptions } from './stack/stack.js';
export { ServiceProcess, SERVICE_NAMES, type ServiceName } from './stack/service-process.js';
export { followRotation, type FollowedEvent } from './stack/follow.js';
export { connectOperator, defaultActor, type Operator } from './operator.js';
export { runCli } from './cli.js';
