// Imported, not listed from the folder at run time, so a bundle or compiled binary (scripts/build.ts)
// carries them. A new migration is a file in ../migrations and a line here; migrations.test.ts fails
// while the two disagree.
import spine from "../migrations/001_spine.sql" with { type: "text" };
import modelsCommandsPresence from "../migrations/002_models_commands_presence.sql" with { type: "text" };
import topology from "../migrations/003_topology.sql" with { type: "text" };
import deviceCredentials from "../migrations/004_device_credentials.sql" with { type: "text" };
import commandTrace from "../migrations/005_command_trace.sql" with { type: "text" };
import deadLetters from "../migrations/006_dead_letters.sql" with { type: "text" };
import telemetry from "../migrations/007_telemetry.sql" with { type: "text" };
import alarms from "../migrations/008_alarms.sql" with { type: "text" };
import notifications from "../migrations/009_notifications.sql" with { type: "text" };
import fleet from "../migrations/010_fleet.sql" with { type: "text" };
import jobs from "../migrations/011_jobs.sql" with { type: "text" };
import firmware from "../migrations/012_firmware.sql" with { type: "text" };

/** A numbered schema change (`NNN_name.sql`) and its SQL. */
export interface Migration {
  file: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { file: "001_spine.sql", sql: spine },
  { file: "002_models_commands_presence.sql", sql: modelsCommandsPresence },
  { file: "003_topology.sql", sql: topology },
  { file: "004_device_credentials.sql", sql: deviceCredentials },
  { file: "005_command_trace.sql", sql: commandTrace },
  { file: "006_dead_letters.sql", sql: deadLetters },
  { file: "007_telemetry.sql", sql: telemetry },
  { file: "008_alarms.sql", sql: alarms },
  { file: "009_notifications.sql", sql: notifications },
  { file: "010_fleet.sql", sql: fleet },
  { file: "011_jobs.sql", sql: jobs },
  { file: "012_firmware.sql", sql: firmware },
];
