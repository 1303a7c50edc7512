import { expect, test } from "bun:test";
import { KINDS } from "@umos/contracts";
import { countsLine, JOB_PROGRESS, rolloutLine, SHOWN_STATUSES, targetLine, waveLine } from "./job-figures";
import type { ExecutionStatus } from "./jobs-api";

/** Every status the API counts: the type makes the literal name them all. */
const counts = (over: Partial<Record<ExecutionStatus, number>> = {}): Record<ExecutionStatus, number> => ({
  pending: 0,
  in_progress: 0,
  succeeded: 0,
  failed: 0,
  timed_out: 0,
  cancelled: 0,
  ...over,
});

test("the console shows every execution status, and listens for the kind the job runner publishes", () => {
  expect(Object.keys(counts()).sort()).toEqual([...SHOWN_STATUSES].sort());
  expect(JOB_PROGRESS).toBe(KINDS.jobProgress);
});

test("a job's counts read done first, leaving out the statuses nobody is in", () => {
  expect(countsLine(counts({ pending: 2, succeeded: 3, timed_out: 1 }))).toBe("3 succeeded · 1 timed out · 2 pending");
  expect(countsLine(counts())).toBe("no devices yet");
});

test("the wave counts from 1 once the job started, from 0 before", () => {
  expect(waveLine({ wave: 0, waves: 2, startedAt: null })).toBe("0/2");
  expect(waveLine({ wave: 1, waves: 2, startedAt: "2025-06-15T10:00:00.000Z" })).toBe("2/2");
});

test("a target and a rollout read as a line each", () => {
  expect(targetLine({ query: 'tag = "roof"' })).toBe('query tag = "roof"');
  expect(targetLine({ devices: ["a", "b", "c", "d"] })).toBe("devices a, b, c and 1 more");
  const rollout = { ratePerMinute: 600, maxInFlight: 50, waves: [{ devices: 2 }, { percent: 100 }], abort: { failurePercent: 20, minFinished: 5 }, retries: 1 };
  expect(rolloutLine({ rollout })).toBe("600/min · 50 in flight · waves 2 devices, 100% · abort past 20% failed of 5 finished · 1 retry");
  expect(rolloutLine({ rollout: { ...rollout, waves: [], abort: null, retries: 0 } })).toBe(
    "600/min · 50 in flight · one wave · no abort threshold · 0 retries",
  );
});
