// aedes-persistence ships the in-memory class's types beside, not next to, its module file.
declare module "aedes-persistence/asyncPersistence.js" {
  import MemoryPersistence = require("aedes-persistence/types/asyncPersistence");
  export default MemoryPersistence;
}
