/** A named readiness check; `check` resolves true when the dependency is usable. */
export interface Probe {
  name: string;
  check(): boolean | Promise<boolean>;
}
