export {
  SEVERITIES,
  SeveritySchema,
  severityRank,
  COUNTED_OUTCOMES,
  ConditionSchema,
  RuleDefinitionSchema,
  type Severity,
  type Condition,
  type RuleDefinition,
  type Level,
} from "./definition";
export {
  compileRule,
  step,
  reads,
  newFacts,
  isMomentary,
  bySeverity,
  type CompiledRule,
  type Facts,
  type Timers,
  type Input,
  type Action,
  type Step,
} from "./evaluate";
export { parseRule, checkRuleAgainstModel } from "./check";
export { hmsItems, HMS_EVENT, HMS_SOURCE_PREFIX, type HmsItem } from "./hms";
export { inputOf } from "./input";
