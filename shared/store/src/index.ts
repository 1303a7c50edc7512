export { json, openDatabase, openMigratedDatabase, ensureDatabase, type Database, type DatabaseOptions, type Sql } from "./database";
export { migrate } from "./migrate";
export { asUnavailable, withOutagesAsUnavailable } from "./outage";
export {
  deviceRepository,
  type Device,
  type NewDevice,
  type DevicePage,
  type DeviceRepository,
  type DevicePatch,
  type PresenceChange,
  type DeviceRoute,
  type ModelRef,
  type DeviceListOptions,
} from "./devices";
export { parseDeviceQuery, MAX_QUERY_LENGTH, type QueryNode } from "./device-query";
export { checkImport, importDevices, importRefused, MAX_IMPORT_ROWS, type ImportRow, type ImportProblem } from "./device-import";
export {
  jobRepository,
  jobProgressEvent,
  nextRun,
  placeInWaves,
  EXECUTION_STATUSES,
  type Job,
  type NewJob,
  type JobRepository,
  type JobStatus,
  type JobTarget,
  type JobOperation,
  type Rollout,
  type Wave,
  type Execution,
  type ExecutionStatus,
  type PrepareCommand,
  type PreparedCommand,
  type Turn,
} from "./jobs";
export { firmwareRepository, packageFor, type FirmwarePackage, type NewFirmwarePackage, type FirmwareRepository } from "./firmware";
export { groupRepository, MAX_MEMBERS_PER_CALL, type DeviceGroup, type NewGroup, type GroupPatch, type GroupRepository } from "./groups";
export { writeBatch, pageMessages, findRequest, type LogEntry, type BatchResult, type StoredMessage, type MessagePage } from "./messages";
export {
  commandRepository,
  type Command,
  type CommandRepository,
  type Transition,
  type NewCommand,
  type CommandTarget,
} from "./commands";
export { thingModelRepository, type ThingModel, type ModelInput, type Validation, type ThingModelRepository } from "./thing-models";
export { credentialRepository, type CredentialRepository, type DeviceLogin } from "./credentials";
export {
  deadLetterRepository,
  type DeadLetter,
  type NewDeadLetter,
  type DeadLetterFilter,
  type DeadLetterPage,
  type DeadLetterState,
  type DeadLetterRepository,
} from "./dead-letters";
export {
  retentionRepository,
  policyOf,
  RETENTION_KINDS,
  EXPIRING_KINDS,
  type ExpiringKind,
  type RetentionKind,
  type RetentionPolicy,
  type RetentionSetting,
  type RetentionRepository,
  type Removal,
  type RemovalRecord,
} from "./retention";
export { alarmColumns, type Alarm, type AlarmChange, type AlarmSeverity, type AlarmStatus } from "./alarm-row";
export { alarmRepository, type AlarmComment, type AlarmFilter, type AlarmPage, type AlarmRepository } from "./alarms";
export { alarmEvent, queueAlarmEvent, alarmOutboxFlusher, type OutboxPublish } from "./alarm-outbox";
export { ruleRepository, type Rule, type RuleInput, type RuleRepository, type RuleStatus } from "./rules";
export {
  notificationRepository,
  type NotificationChannel,
  type NotificationRepository,
  type SealedChannel,
  type ChannelInput,
  type Claim,
  type ClaimRequest,
  type NotificationDelivery,
  type NotificationDeliveryPage,
  type DeliveryStatus,
} from "./notifications";
