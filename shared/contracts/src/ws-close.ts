/**
 * Close codes of the WebSocket API (docs/interfaces.md, WebSocket), the server's and its clients'
 * one list: RFC 6455 §7.4.1 codes, and 4000-4999 for the application (§7.4.2).
 */
export const WS_CLOSE = {
  /** The server is stopping (RFC 6455: going away). */
  shuttingDown: 1001,
  /** A rule broken: reading too slowly, messages too fast (RFC 6455: policy violation). */
  policy: 1008,
  /** The client's token expired: reconnect with a new one, not with the same. */
  tokenExpired: 4001,
} as const;
