export { compileModel, validateDefinition, type CompiledModel, type Problem } from "./compile";
export {
  DefinitionSchema,
  DATA_TYPES,
  type Definition,
  type DataType,
  type Property,
  type ThingEvent,
  type ThingService,
  type Param,
} from "./definition";
export { createModelCache, type ModelCache, type CachedModel, type ModelVersion } from "./model-cache";
