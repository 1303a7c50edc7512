import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError, UmosError, UnauthorizedError, UnavailableError, type Logger } from "@umos/core";
import { asUnavailable } from "@umos/store";

export interface ErrorReply {
  status: number;
  body: { error: { code: string; message: string; details?: unknown } };
}

/** The one place UMOS errors become HTTP answers (docs/design.md §10 error format). */
export function toHttpError(code: string | number, thrown: unknown, log: Logger): ErrorReply {
  // The database out of reach is 503, which a client may retry, not an internal error (fault suite).
  const error = asUnavailable(thrown);
  const reply = (status: number, c: string, message: string, details?: unknown): ErrorReply => ({
    status,
    body: { error: details === undefined ? { code: c, message } : { code: c, message, details } },
  });
  if (error instanceof UnauthorizedError) return reply(401, error.code, error.message);
  if (error instanceof ForbiddenError) return reply(403, error.code, error.message);
  if (error instanceof InvalidInputError) return reply(400, error.code, error.message, error.details);
  if (error instanceof NotFoundError) return reply(404, error.code, error.message, error.details);
  if (error instanceof ConflictError) return reply(409, error.code, error.message, error.details);
  if (error instanceof UnavailableError) return reply(503, error.code, error.message);
  if (error instanceof UmosError && error.code === "body_too_large") return reply(413, error.code, error.message);
  // A feature this server was not set up for (telemetry without influx.url): not the caller's fault, nor passing.
  if (error instanceof UmosError && error.code === "not_configured") return reply(501, error.code, error.message);
  if (error instanceof UmosError) return reply(error.retryable ? 503 : 400, error.code, error.message, error.details);
  switch (code) {
    case "VALIDATION": {
      const issues = validationIssues(error);
      const first = issues[0];
      return reply(400, "invalid_request", first ? `${first.path || "request"}: ${first.message}` : "request does not match the schema", issues);
    }
    case "PARSE":
      return reply(400, "malformed_body", "the request body could not be parsed");
    case "NOT_FOUND":
      return reply(404, "not_found", "no such route");
    default:
      log.error("unhandled error", { err: error });
      return reply(500, "internal", "internal error; the server log has the details");
  }
}

function validationIssues(error: unknown): { path: string; message: string }[] {
  const all = (error as { all?: { path?: string; summary?: string; message?: string }[] }).all ?? [];
  return all.map((issue) => ({ path: issue.path ?? "", message: issue.summary ?? issue.message ?? "invalid" }));
}
