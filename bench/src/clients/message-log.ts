import postgres from "postgres";

/** Slack between the bench's clock and the gateway's UUIDv7 clock, both this machine's wall clock. */
const CLOCK_SLACK_MS = 1000;

/**
 * Reads the message log the way the REST API does (PostgreSQL, table message_log), to see when
 * frames were stored. Rows are keyed by the gateway's UUIDv7 message id, in receipt order.
 */
export function watchMessageLog(databaseUrl: string) {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  return {
    /** Rows stored so far for these devices. */
    async count(deviceIds: readonly string[]): Promise<number> {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from message_log where device_id in ${sql(deviceIds)}`;
      return row!.n;
    },

    /**
     * Polls the rows of a few devices until stopped and reports each row's send stamp (`data.t`)
     * with the time the poll saw it: a latency to the log, to within one poll (a few ms). Each poll
     * reads the rows received since `oldestPending()` (a stamp), so its cost follows the backlog.
     */
    probe(deviceIds: readonly string[], oldestPending: () => number, onRow: (stamp: number, at: number) => void) {
      const seen = new Set<number>();
      let running = true;
      const polling = (async () => {
        while (running) {
          const since = uuidV7Floor(performance.timeOrigin + oldestPending() - CLOCK_SLACK_MS);
          const rows = await sql<{ t: number }[]>`
            select (data->>'t')::float8 as t from message_log where device_id in ${sql(deviceIds)} and id > ${since}::uuid`;
          const at = performance.now();
          for (const { t } of rows) {
            if (seen.has(t)) continue;
            seen.add(t);
            onRow(t, at);
          }
          await Bun.sleep(2);
        }
      })();
      return {
        async stop() {
          running = false;
          await polling;
        },
      };
    },

    close: () => sql.end(),
  };
}

/** The smallest UUIDv7 of a millisecond (RFC 9562 §5.7: the first 48 bits are the Unix time in ms). */
function uuidV7Floor(ms: number): string {
  const hex = Math.floor(ms).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}
