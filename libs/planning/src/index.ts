/**
 * Deciding what a rotation request means: validation with reason codes and
 * the plan. Pure over the catalog and the holders file, so the planner and
 * `caracal-rotate plan` (which must write nothing) compute the same plan.
 */
export { validateRequest, type AcceptedRequest, type RequestVerdict } from './validate-request.js';
export { buildPlan, drainSetOf, fileNameFor, type PlanContext } from './build-plan.js';
