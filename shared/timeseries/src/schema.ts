/**
 * How UMOS lays telemetry out in InfluxDB (docs/telemetry.md). The writer (iot-uplink), the reader
 * (iot-api) and the Grafana dashboard all go by these names: change them together or not at all.
 *
 * One point per reported property, with its name as a tag rather than as a field key: a field keeps
 * one type per shard, so `status` as a number from one device and as a string from another would
 * make InfluxDB refuse the batch (field type conflict); typed field names cannot conflict.
 */
export const MEASUREMENTS = {
  /** A property's value as a device reported it. */
  property: "device_property",
  /** A device event, one point per occurrence. */
  event: "device_event",
} as const;

export const TAGS = {
  device: "device",
  vendor: "vendor",
  /** The device's thing model id (not its version, so moving a device to the next version keeps its series); absent without a model. */
  model: "model",
  /** device_property: the property's path, `battery.capacity_percent` for a nested one. */
  property: "property",
  /** device_event: the event's name. */
  event: "event",
} as const;

export const FIELDS = {
  /** Numbers as floats, booleans as 1 and 0 (so mean, min and max work on them); device_event: 1 per occurrence. */
  value: "value",
  /** device_property: strings, and arrays as JSON. */
  text: "text",
  /** device_event: the event's data as JSON. */
  data: "data",
} as const;

/** Timestamps are the message's own `ts`, in ms: a redelivered message rewrites the same points. */
export const PRECISION = "ms";
