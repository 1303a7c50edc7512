/**
 * The few error types every transport understands. Each carries a stable `code`; the edges map
 * them: HTTP status in iot-api, ack / requeue / dead letter on the bus. Classify by class or code,
 * never by message text.
 */
export class UmosError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** Whether trying the same thing again later can succeed. */
    readonly retryable: boolean,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** An UmosError that trying again cannot fix: a dead letter on the bus, a 4xx over HTTP. */
export function isPermanent(err: unknown): err is UmosError {
  return err instanceof UmosError && !err.retryable;
}

/** The input is wrong and stays wrong: HTTP 400, dead letter on the bus. */
export class InvalidInputError extends UmosError {
  constructor(code: string, message: string, details?: unknown) {
    super(code, message, false, details);
  }
}

export class NotFoundError extends UmosError {
  constructor(message: string, details?: unknown) {
    super("not_found", message, false, details);
  }
}

export class ConflictError extends UmosError {
  constructor(message: string, details?: unknown) {
    super("conflict", message, false, details);
  }
}

/** A dependency (broker, database) is down or overloaded; retry later. */
export class UnavailableError extends UmosError {
  constructor(message: string, details?: unknown) {
    super("unavailable", message, true, details);
  }
}

/** No identity, or one that does not hold: HTTP 401. */
export class UnauthorizedError extends UmosError {
  constructor(message: string) {
    super("unauthorized", message, false);
  }
}

/** A known identity without the right: HTTP 403. */
export class ForbiddenError extends UmosError {
  constructor(message: string) {
    super("forbidden", message, false);
  }
}
