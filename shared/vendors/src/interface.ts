import type { Envelope, Stage, Vendor } from "@umos/contracts";
import type { Definition } from "@umos/thing-model";

/** Where a device->cloud MQTT topic goes, read from the topic alone (the gateway never parses payloads). */
export interface TopicRoute {
  vendor: Vendor;
  deviceId: string;
  /** The routing key's action, e.g. `property.report`; no dots inside a segment of the topic. */
  action: string;
}

/** A raw frame as iot-uplink receives it from the gateway. */
export interface RawFrame {
  deviceId: string;
  action: string;
  topic: string;
  payload: Uint8Array;
  /** The AMQP message-id the gateway gave the frame. */
  messageId: string;
  receivedAt: number;
}

/** A command's device: its thing model (Tuya scales values by it), and the gateway it is reached through (a DJI aircraft's dock). */
export interface TargetContext {
  definition: Definition | null;
  gatewayId: string | null;
}

/** One normalized message decoded from a frame, and the stage it goes to next. */
export interface DecodedMessage {
  stage: Extract<Stage, "event" | "service">;
  action: string;
  envelope: Envelope;
  /** The device's own message id, scoped by device: what makes a resent frame recognisable. */
  deviceMessageId?: string;
}

/** A frame ready for MQTT. */
export interface EncodedFrame {
  topic: string;
  payload: Uint8Array;
}

export interface Decoded {
  messages: DecodedMessage[];
  /** Answers the protocol expects at once (DJI events_reply and status_reply, Tuya *_response). */
  replies: EncodedFrame[];
  /** A gateway's sub-devices as it reports them now (DJI update_topo). */
  topology?: { gatewayId: string; subDevices: string[] };
}

/**
 * One vendor's wire format, both ways (docs/design.md §11: wire types, a pure transform, the adapter). Every
 * method is pure; decode, encode and importModel throw InvalidInputError for what they cannot take.
 */
export interface VendorAdapter {
  vendor: Vendor;
  /** MQTT topic filters carrying this vendor's device->cloud traffic. */
  uplinkFilters: readonly string[];
  routeTopic(topic: string): TopicRoute | undefined;
  /** The device a topic or subscription filter of this vendor belongs to, in either direction (MQTT authorization). */
  deviceOfTopic(topic: string): string | undefined;
  decode(frame: RawFrame): Decoded;
  /**
   * A report's property values as real values, by the reporting device's own thing model (Tuya sends
   * value x 10^scale); the identity for vendors that send real values. Applied per message, since a
   * gateway's frame may carry its sub-devices' reports too.
   */
  toReal(properties: Record<string, unknown>, definition: Definition | null): Record<string, unknown>;
  /** A command (`service.call`, `property.set`) as the device's frame; its correlation id goes where the reply echoes it. */
  encode(envelope: Envelope, target: TargetContext): EncodedFrame;
  /** The vendor's own thing-model document as a UMOS definition. */
  importModel(document: unknown): Definition;
}
