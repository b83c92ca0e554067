export { RotationFixture, asRotationEvent, samplePlan, type FixtureEvent, type RotationFixtureOptions } from './rotation-fixture.js';
export { useTestDatabase } from './database.js';
