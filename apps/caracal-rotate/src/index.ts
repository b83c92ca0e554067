export { followRotation, type FollowedEvent } from './follow.js';
export { connectOperator, defaultActor, type Operator } from './operator.js';
export { runCli } from './cli.js';
