import { pidsByName, type WatchedProcess } from "./process-usage";

/** The processes every phase reads besides the services: the brokers, the database and the bench itself. */
export const watched = {
  /** The broker boots with `-s rabbit boot`; rabbitmqctl runs are beam.smp processes too. */
  rabbitmq: (): WatchedProcess => ({ name: "rabbitmq", pids: pidsByName("beam.smp", (cmd) => cmd.includes(" -s rabbit boot ")) }),
  /**
   * PostgreSQL's own processes (postmaster, writers) and the backends serving `database`; backends
   * of other databases (other users of the server) are left out. CPU only, as a sum.
   */
  postgres: (database: string): WatchedProcess => ({
    name: "postgres",
    pids: pidsByName("postgres", (cmd) => cmd.includes(` ${database} `) || !/\(\d+\)|\[local\]/.test(cmd)),
  }),
  mosquitto: (pid: number): WatchedProcess => ({ name: "mosquitto", pids: [pid] }),
  /** The load generator: devices, apps and their clocks share the machine with what they measure. */
  bench: (): WatchedProcess => ({ name: "bench", pids: [process.pid] }),
};
