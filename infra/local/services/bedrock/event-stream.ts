/**
 * InvokeAgent's and ConverseStream's response body: an `application/vnd.amazon.eventstream` of
 * binary messages, framed (prelude, headers, CRCs) by @smithy/eventstream-codec, the codec the SDK
 * reads them with. Each event names its union member in `:event-type` (InvokeAgent's ResponseStream:
 * chunk, trace, returnControl; ConverseStreamOutput: converse-stream.ts); an error after the 200 is
 * an `exception` message instead, which the SDK raises from the stream.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import type { AwsError, WireResponse } from '../../edge/aws-error.ts';

const codec = new EventStreamCodec(
  (input) => (typeof input === 'string' ? input : Buffer.from(input).toString('utf8')),
  (input) => new Uint8Array(Buffer.from(input, 'utf8')),
);

/** Words per chunk when InvokeAgent streams its final response. */
const WORDS_PER_CHUNK = 3;

/**
 * The pieces a streamed final response arrives in: a few words each (Bedrock's own chunking is
 * the model's, by tokens). Joined, they are the text.
 */
export function streamPieces(text: string): string[] {
  const words = text.match(/\s*\S+\s*/g) ?? [text];
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += WORDS_PER_CHUNK) pieces.push(words.slice(i, i + WORDS_PER_CHUNK).join(''));
  return pieces;
}

/** An event of the stream: `eventType` names the ResponseStream union member, `payload` is its JSON. */
export function eventMessage(eventType: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'event' },
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: new Uint8Array(Buffer.from(JSON.stringify(payload), 'utf8')),
  });
}

/** An error inside the event stream: `:exception-type` names the ResponseStream union member. */
export function exceptionMessage(error: AwsError): Uint8Array {
  const member = error.code.charAt(0).toLowerCase() + error.code.slice(1);
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'exception' },
      ':exception-type': { type: 'string', value: member },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: new Uint8Array(Buffer.from(JSON.stringify({ message: error.message }), 'utf8')),
  });
}

/**
 * Paces a stream (a test and bench control): awaited before each piece of answer text is written
 * (InvokeAgent's chunk events, ConverseStream's text deltas), with the piece's index in its response.
 * Without one the local model is instant: the whole stream is written at once.
 */
export type StreamGate = (piece: number) => Promise<void>;

/** A message of a stream; `piece` marks a piece of answer text, which a gate paces. */
export interface StreamMessage {
  bytes: Uint8Array;
  piece?: boolean;
}

/** The messages as a response body: all at once, or through `gate` part by part. */
export function streamBody(messages: StreamMessage[], gate: StreamGate | undefined): Pick<WireResponse, 'body' | 'stream'> {
  if (!gate) return { body: Buffer.concat(messages.map((m) => m.bytes)) };
  return {
    body: '',
    stream: (async function* () {
      let piece = 0;
      for (const m of messages) {
        if (m.piece) await gate(piece++);
        yield m.bytes;
      }
    })(),
  };
}

/** InvokeAgent's 200: the messages, in order, and the session they belong to. */
export function eventStreamResponse(sessionId: string, messages: StreamMessage[], gate?: StreamGate): WireResponse {
  return {
    status: 200,
    headers: {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-bedrock-agent-content-type': 'application/json',
      'x-amz-bedrock-agent-session-id': sessionId,
    },
    ...streamBody(messages, gate),
  };
}
