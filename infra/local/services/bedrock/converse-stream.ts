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
 * pieces joined are the Converse reply. The local model is instant (every event is written at once)
 * unless a stream gate paces its text deltas (event-stream.ts).
 */
import type { WireResponse } from '../../edge/aws-error.ts';
import { eventMessage, streamBody, streamPieces, type StreamGate, type StreamMessage } from './event-stream.ts';

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
export function converseStreamEvents(reply: ConverseReply): StreamMessage[] {
  const events: StreamMessage[] = [];
  const push = (type: string, payload: unknown, piece?: true) => events.push({ bytes: eventMessage(type, payload), ...(piece ? { piece } : {}) });
  push('messageStart', { role: 'assistant' });
  reply.content.forEach((block, contentBlockIndex) => {
    const toolUse = block.toolUse as { toolUseId: string; name: string; input: unknown } | undefined;
    if (toolUse) {
      push('contentBlockStart', { contentBlockIndex, start: { toolUse: { toolUseId: toolUse.toolUseId, name: toolUse.name } } });
      for (const input of inputPieces(JSON.stringify(toolUse.input))) push('contentBlockDelta', { contentBlockIndex, delta: { toolUse: { input } } });
    } else {
      for (const text of streamPieces(String(block.text ?? ''))) push('contentBlockDelta', { contentBlockIndex, delta: { text } }, true);
    }
    push('contentBlockStop', { contentBlockIndex });
  });
  push('messageStop', { stopReason: reply.stopReason });
  push('metadata', { usage: reply.usage, metrics: { latencyMs: reply.latencyMs } });
  return events;
}

/** How many events a stream fault lets through before its exception: messageStart and the first content event. */
export const EVENTS_BEFORE_STREAM_FAULT = 2;

/** ConverseStream's 200: the messages, in order. */
export function converseStreamResponse(messages: StreamMessage[], gate: StreamGate | undefined): WireResponse {
  return { status: 200, headers: { 'content-type': 'application/vnd.amazon.eventstream' }, ...streamBody(messages, gate) };
}
