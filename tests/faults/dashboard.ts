import type { jsonClient } from "@umos/testkit";

/**
 * A dashboard as an app would write one: it subscribes to the devices' reports over the WebSocket
 * API, reconnects when its socket drops, and fills the gap from the message log (REST), because
 * live push is not replayed (docs/guarantees.md).
 */
export interface Dashboard {
  /** `<deviceId>-<n>` of every report seen live. */
  readonly reports: Set<string>;
  /** Reports pushed more than once. */
  readonly duplicates: number;
  /** Reads the devices' logs and adds what the live feed missed; returns how many that was. */
  backfill(api: ReturnType<typeof jsonClient>): Promise<number>;
  close(): void;
}

export async function openDashboard(wsUrl: string, token: string, devices: string[]): Promise<Dashboard> {
  const reports = new Set<string>();
  let duplicates = 0;
  let closed = false;
  let socket: WebSocket;

  const connect = () =>
    new Promise<void>((resolve) => {
      socket = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
      socket.onopen = () => socket.send(JSON.stringify({ type: "subscribe", devices, kinds: ["property.report"] }));
      socket.onmessage = (event) => {
        const frame = JSON.parse(String(event.data)) as { type: string; message?: { deviceId: string; data: { n: number } } };
        if (frame.type === "subscribed") return resolve();
        if (frame.type !== "message" || !frame.message) return;
        const key = `${frame.message.deviceId}-${frame.message.data.n}`;
        if (reports.has(key)) duplicates++;
        else reports.add(key);
      };
      socket.onclose = () => {
        resolve();
        if (!closed) setTimeout(() => void connect(), 200);
      };
      socket.onerror = () => {};
    });
  await connect();

  return {
    reports,
    get duplicates() {
      return duplicates;
    },
    async backfill(api) {
      let added = 0;
      for (const device of devices) {
        let before: string | null = null;
        do {
          const res = await api.get(`/api/v1/devices/${device}/messages?kind=property.report&limit=500${before ? `&before=${before}` : ""}`);
          for (const item of res.body.items as { data: { n: number } }[]) {
            const key = `${device}-${item.data.n}`;
            if (!reports.has(key)) {
              reports.add(key);
              added++;
            }
          }
          before = res.body.nextCursor;
        } while (before);
      }
      return added;
    },
    close() {
      closed = true;
      socket.close();
    },
  };
}
