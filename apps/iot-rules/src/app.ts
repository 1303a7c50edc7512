import { readEnvelope, type Bus } from "@umos/bus";
import type { RulesConfig } from "@umos/config";
import { HEADERS, QUEUES, type Envelope } from "@umos/contracts";
import { createBatcher, every, UnavailableError } from "@umos/core";
import { serveHealth, serviceApp, type App, type AppDeps } from "@umos/runtime";
import { alarmOutboxFlusher, alarmRepository, asUnavailable, deviceRepository, withOutagesAsUnavailable, type AlarmSeverity, type Database } from "@umos/store";
import { createEvaluator, SWEEP_BATCH } from "./evaluator";
import { checkDeadLetters } from "./platform-alarm";
import { startNotifier } from "./notify/notifier";

/** How often the outbox is flushed even when no evaluation wrote to it (iot-api's changes, a crash's leftovers) and the gauge read. */
const OUTBOX_INTERVAL_MS = 2000;
const DEAD_LETTER_CHECK_MS = 15_000;
const SEEN_CLEANUP_MS = 3_600_000;

/** What iot-rules is put together on: the bus, and the database that holds rules, their state and alarms. */
export interface RulesParts extends AppDeps {
  bus: Bus;
  db: Database;
}

/** iot-rules: evaluates rules on validated events, keeps alarms and announces their changes (docs/alarms.md). */
export function createApp(config: RulesConfig, { log, obs, clock, bus, db }: RulesParts): App {
  return serviceApp(log, config.rules.port, async (resources) => {
    const changes = obs.metrics.counter("iot_alarm_changes_total", "Alarm changes made by iot-rules, by change", ["change"]);
    const countChange = (change: string) => changes.inc({ change });
    const events = obs.metrics.counter("iot_rules_events_total", "Validated events taken by iot-rules, by outcome", ["outcome"]);
    const active = obs.metrics.gauge("iot_alarms_active", "Active alarms by severity", ["severity"]);
    const alarms = alarmRepository(db.sql);
    obs.metrics.countDevicesActive(() => deviceRepository(db.sql).countOnline());
    const evaluator = createEvaluator({ sql: db.sql, clock, log, ruleCacheMs: config.rules.ruleCacheMs, counted: countChange });
    // A publish that fails leaves the events in the outbox for the next flush: a change is never lost, only late.
    const flush = alarmOutboxFlusher(db.sql, bus.publish.bind(bus));
    const flushLogged = () => flush().catch((err) => log.warn("alarm events wait in the outbox", { err }));

    resources.use(
      every(
        "the alarm sweep",
        config.rules.sweepIntervalMs,
        async () => {
          while ((await evaluator.sweep()) === SWEEP_BATCH);
          await flushLogged();
        },
        log,
      ),
      (job) => job.stop(),
      "the alarm sweep",
    );
    resources.use(
      every(
        "the alarm outbox",
        OUTBOX_INTERVAL_MS,
        async () => {
          await flush();
          const counts = await alarms.countActive();
          for (const severity of Object.keys(counts) as AlarmSeverity[]) active.set({ severity }, counts[severity]);
        },
        log,
      ),
      (job) => job.stop(),
      "the alarm outbox",
    );
    if (config.rules.deadLetterAlarmAt > 0) {
      const threshold = config.rules.deadLetterAlarmAt;
      resources.use(
        every("the dead-letter alarm", DEAD_LETTER_CHECK_MS, () => checkDeadLetters(db.sql, clock, threshold, countChange).then(flushLogged), log),
        (j) => j.stop(),
        "the dead-letter alarm",
      );
    }
    resources.use(
      every("forgetting evaluated events", SEEN_CLEANUP_MS, () => evaluator.forgetSeen(config.rules.seenRetentionMs), log),
      (j) => j.stop(),
      "the seen-event cleanup",
    );

    // Events in flight together are evaluated together, one transaction a batch; a batch that fails
    // is evaluated event by event, so one bad event fails alone (the batcher's rule).
    const batches = createBatcher(
      async (envelopes: Envelope[]) => {
        const written = await evaluator.evaluate(envelopes);
        events.inc({ outcome: "evaluated" }, written);
        events.inc({ outcome: "skipped" }, envelopes.length - written);
        if (written > 0) await flushLogged();
        return written;
      },
      { maxSize: config.rules.batchSize, maxWaitMs: config.rules.batchWaitMs, maxInFlight: config.rules.batchesInFlight },
    );
    // A database outage is waited out, not counted against the event (as iot-uplink and iot-downlink do).
    const consumer = await bus.consume(
      { queue: QUEUES.rules, prefetch: config.rules.prefetch },
      withOutagesAsUnavailable(async (message) => {
        // An event of no device (a platform alarm's change, a job's progress) is no rule's input; its
        // empty deviceId would otherwise fail the envelope's check and be dead-lettered.
        if (!message.headers[HEADERS.deviceId]) return;
        const envelope = readEnvelope(message);
        try {
          await batches.add([envelope]);
        } catch (err) {
          // Shown on the rule list (GET /api/v1/rules); the bus retries the event and dead-letters it in the end.
          if (!(asUnavailable(err) instanceof UnavailableError))
            await evaluator.recordError(envelope.deviceId, err).catch((e) => log.warn("could not show the error on the rule list", { err: e }));
          throw err;
        }
      }),
    );
    resources.use(consumer, (c) => c.stop(), "the consumer of iot-rules-queue");
    resources.use(await startNotifier({ bus, db, log, obs, config }), (n) => n.stop(), "the notifier");
    const server = resources.use(
      serveHealth({
        host: config.rules.host,
        port: config.rules.port,
        allowedHosts: config.allowedHosts,
        probes: [bus.probe, db.probe],
        metrics: obs.metrics,
      }),
      (s) => s.stop(true),
      "the HTTP server",
    );
    log.info("iot-rules ready", { port: server.port });
    return server.port!;
  });
}
