import { expect } from "bun:test";
import type { FaultReport } from "./stream";

/** What every case must end with (docs/guarantees.md): nothing lost, nothing stored twice, every command answered. */
export function expectNoLoss(report: FaultReport, { wsLive = true }: { wsLive?: boolean } = {}): void {
  expect(report.received, "every report sent is in the message log").toBe(report.sent);
  expect(report.duplicateRows, "no report is stored twice").toBe(0);
  expect(report.deadLetters, "an outage is waited out, never dead-lettered").toBe(0);
  expect(report.commandsAcked, "every command reached its device and was acked").toBe(report.commands);
  expect(report.apiStalls, "the API answered every command request (503 while the database is away), none hung").toBe(0);
  expect(report.wsLive + report.wsBackfilled, "the dashboard has every report, live or from the log").toBe(report.sent);
  if (wsLive) expect(report.wsBackfilled, "iot-ws and its queue stayed up, so the live feed missed nothing").toBe(0);
}
