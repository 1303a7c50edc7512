export type { DeviceBehaviour, Frame } from "./behaviour";
export { FAILING_SERVICE } from "./behaviour";
export { genericDevice } from "./generic";
export { djiDock, aircraftOf } from "./dji";
export { tuyaPlug } from "./tuya";
export { connectDevice, type SimulatedDevice, type ConnectOptions, type DeviceCounters } from "./device";
export { registerDevice, RegistrationError } from "./register";
export { behaviours, fleetClock, reportHistory, startFleet, runFleet, type FleetSize, type FleetOptions, type RunOptions } from "./fleet";
