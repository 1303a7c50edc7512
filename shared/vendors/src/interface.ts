import type { Envelope, Vendor } from "@umos/contracts";

/** Where a device->cloud MQTT topic goes, read from the topic alone (the gateway never parses payloads). */
export interface TopicRoute {
  vendor: Vendor;
  deviceId: string;
  /** The routing key's action, e.g. `property.report`. */
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

/** One normalized message decoded from a frame, and the stage it goes to next. */
export interface DecodedMessage {
  stage: "event" | "service";
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

/**
 * One vendor's wire format, both ways. Every method is pure; decode and encode throw
 * InvalidInputError for a frame or command they cannot express.
 */
export interface VendorAdapter {
  vendor: Vendor;
  /** MQTT topic filters carrying this vendor's device->cloud traffic. */
  uplinkFilters: readonly string[];
  routeTopic(topic: string): TopicRoute | undefined;
  decode(frame: RawFrame): DecodedMessage[];
  encode(envelope: Envelope): EncodedFrame;
}
