export { openDatabase, openMigratedDatabase, ensureDatabase, type Database, type DatabaseOptions, type Sql } from "./database";
export { migrate } from "./migrate";
export { deviceRepository, type Device, type NewDevice, type DevicePage, type DeviceRepository } from "./devices";
export { writeBatch, pageMessages, type LogEntry, type StoredMessage, type MessagePage } from "./messages";
export { commandRepository, type Command, type CommandStatus, type CommandRepository } from "./commands";
