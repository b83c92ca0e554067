export { followRotation, awaitEvents, type FollowedEvent } from './follow.js';
export { connectOperator, type Operator } from './operator.js';
export { runCli } from './cli.js';
export { cliEnvironment, type CliEnvironment } from './environment.js';
