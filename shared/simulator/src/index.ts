export type { Answer, DeviceBehaviour, Frame } from "./behaviour";
export { FAILING_SERVICE } from "./behaviour";
export { genericDevice, OTA_SERVICE, type GenericOptions } from "./generic";
export { djiDock, aircraftOf, OTA_CREATE } from "./dji";
export { FIRST_FIRMWARE, type FirmwareOptions } from "./ota";
export { tuyaPlug } from "./tuya";
export { connectDevice, type SimulatedDevice, type ConnectOptions, type DeviceCounters } from "./device";
export { registerDevice, RegistrationError } from "./register";
export { behaviours, fleetClock, reportHistory, startFleet, runFleet, type FleetSize, type FleetOptions, type RunOptions } from "./fleet";
