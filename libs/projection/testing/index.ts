export { RotationFixture, asRotationEvent, asProjected, planRefOf, type FixtureEvent, type RotationFixtureOptions } from './rotation-fixture.js';
export { dualPlan, zonePlan, singleValuePlan } from './plans.js';
export { useTestDatabase } from './database.js';
