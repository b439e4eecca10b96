/**
 * Reads a ConverseStream response into the assistant message it streams: text deltas go to the
 * sink as they arrive; toolUse blocks are assembled from their contentBlockStart (id, name) and
 * their input deltas (pieces of one JSON text); messageStop gives the stop reason and metadata the
 * usage. An exception event ends the stream by throwing from the SDK's iterator, as any error of
 * the call does: the caller classifies it.
 */
import type { ContentBlock, ConverseStreamOutput, Message, TokenUsage } from '@aws-sdk/client-bedrock-runtime';
import type { DocumentType } from '@smithy/types';
import { ErrorName, WorkflowError } from './errors.ts';

export interface StreamedMessage {
  message: Message;
  stopReason: string | undefined;
  /** The text of this message, as it was handed to the sink. */
  text: string;
  usage: TokenUsage | undefined;
}

type Block = { kind: 'text'; text: string } | { kind: 'toolUse'; toolUseId: string; name: string; input: string };

function toolInput(json: string, name: string): DocumentType {
  if (json.trim() === '') return {};
  try {
    return JSON.parse(json) as DocumentType;
  } catch {
    // The model's text is untrusted: it is named, never quoted.
    throw new WorkflowError(ErrorName.AgentFailed, `ConverseStream: the input of tool ${name.slice(0, 64)} is not JSON`);
  }
}

export async function readConverseStream(stream: AsyncIterable<ConverseStreamOutput>, onText: (piece: string) => void): Promise<StreamedMessage> {
  const blocks = new Map<number, Block>();
  let stopReason: string | undefined;
  let usage: TokenUsage | undefined;
  let text = '';
  for await (const event of stream) {
    if (event.contentBlockStart) {
      const start = event.contentBlockStart.start?.toolUse;
      if (start) blocks.set(event.contentBlockStart.contentBlockIndex ?? 0, { kind: 'toolUse', toolUseId: start.toolUseId ?? '', name: start.name ?? '', input: '' });
    } else if (event.contentBlockDelta) {
      const index = event.contentBlockDelta.contentBlockIndex ?? 0;
      const delta = event.contentBlockDelta.delta;
      if (delta?.text !== undefined) {
        const block = blocks.get(index) ?? { kind: 'text', text: '' };
        if (block.kind !== 'text') throw new WorkflowError(ErrorName.AgentFailed, `ConverseStream: text in toolUse block ${index}`);
        block.text += delta.text;
        blocks.set(index, block);
        text += delta.text;
        if (delta.text) onText(delta.text);
      } else if (delta?.toolUse) {
        const block = blocks.get(index);
        if (block?.kind !== 'toolUse') throw new WorkflowError(ErrorName.AgentFailed, `ConverseStream: toolUse input for block ${index} without its start`);
        block.input += delta.toolUse.input ?? '';
      }
    } else if (event.messageStop) {
      stopReason = event.messageStop.stopReason;
    } else if (event.metadata) {
      usage = event.metadata.usage;
    }
  }
  const content: ContentBlock[] = [...blocks.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, b]) => (b.kind === 'text' ? { text: b.text } : { toolUse: { toolUseId: b.toolUseId, name: b.name, input: toolInput(b.input, b.name) } }));
  return { message: { role: 'assistant', content }, stopReason, text, usage };
}
