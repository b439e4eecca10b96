/**
 * ConverseStream's response: the same reply as Converse (one local model decides it), told as the
 * ConverseStreamOutput events of an `application/vnd.amazon.eventstream` body (event-stream.ts):
 *
 *   messageStart {role}
 *   per content block i: a toolUse block opens with contentBlockStart {start.toolUse {toolUseId, name}},
 *     then contentBlockDelta {delta.text} or {delta.toolUse.input} pieces, then contentBlockStop
 *     (a text block has no start event: ContentBlockStart has no text member)
 *   messageStop {stopReason}
 *   metadata {usage, metrics.latencyMs}
 *
 * Text arrives a few words per delta (streamPieces), a tool's input as pieces of its JSON text: the
 * pieces joined are the Converse reply. The local model is instant: every event is written at once.
 */
import { eventMessage, streamPieces } from './event-stream.ts';

type Json = Record<string, unknown>;

/** What one Converse or ConverseStream call answers, before it is put on the wire. */
export interface ConverseReply {
  content: Json[];
  stopReason: string;
  usage: { inputTokens: number; outputTokens: number; totalTokens: number };
  latencyMs: number;
}

/** Characters of a tool's JSON input per toolUse delta. */
const INPUT_PIECE = 16;

function inputPieces(json: string): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < json.length; i += INPUT_PIECE) pieces.push(json.slice(i, i + INPUT_PIECE));
  return pieces;
}

/** The reply's events in order, one encoded message each. */
export function converseStreamEvents(reply: ConverseReply): Uint8Array[] {
  const events: Uint8Array[] = [eventMessage('messageStart', { role: 'assistant' })];
  reply.content.forEach((block, contentBlockIndex) => {
    const toolUse = block.toolUse as { toolUseId: string; name: string; input: unknown } | undefined;
    if (toolUse) {
      events.push(eventMessage('contentBlockStart', { contentBlockIndex, start: { toolUse: { toolUseId: toolUse.toolUseId, name: toolUse.name } } }));
      for (const input of inputPieces(JSON.stringify(toolUse.input))) events.push(eventMessage('contentBlockDelta', { contentBlockIndex, delta: { toolUse: { input } } }));
    } else {
      for (const text of streamPieces(String(block.text ?? ''))) events.push(eventMessage('contentBlockDelta', { contentBlockIndex, delta: { text } }));
    }
    events.push(eventMessage('contentBlockStop', { contentBlockIndex }));
  });
  events.push(eventMessage('messageStop', { stopReason: reply.stopReason }));
  events.push(eventMessage('metadata', { usage: reply.usage, metrics: { latencyMs: reply.latencyMs } }));
  return events;
}

/** How many events a stream fault lets through before its exception: messageStart and the first content event. */
export const EVENTS_BEFORE_STREAM_FAULT = 2;

/** ConverseStream's 200: the messages, in order. */
export function converseStreamResponse(messages: Uint8Array[]) {
  return { status: 200, headers: { 'content-type': 'application/vnd.amazon.eventstream' }, body: Buffer.concat(messages) };
}
