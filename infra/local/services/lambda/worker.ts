/**
 * The local Lambda sandbox: a worker thread that hosts the task functions, apart from the stand-ins.
 * Each function is configured as its Lambda is on AWS: `taskConfigFromEnv` reads the environment
 * CDK sets (`taskEnvironment`), and its SDK clients sign with that function's own role credentials
 * and reach AWS through the edge. Nothing here can touch the stand-ins' memory: every call goes
 * over the wire, signed, as from a real Lambda. The parent (lambda-runtime.ts) sends invocations
 * and receives results, errors and log lines.
 */
import { parentPort } from 'node:worker_threads';
import type { TaskHandler } from '../../../../tasks/task-modules.ts';
import { errorDocumentOf } from './invocation.ts';
import { buildFunction, type SandboxInit, type SandboxReply, type SandboxRequest } from './protocol.ts';

if (!parentPort) throw new Error('lambda-worker.ts runs only as a worker thread (see runtime.ts)');
const port = parentPort;

const handlers = new Map<string, TaskHandler>();

/** Builds the functions (the code is loaded already: the sandbox starts while the stack does). */
function init(message: SandboxInit): void {
  for (const fn of message.functions) {
    const log = (line: Record<string, unknown>) => port.postMessage({ kind: 'log', functionArn: fn.functionArn, line } satisfies SandboxReply);
    handlers.set(fn.functionArn, buildFunction(fn, message.endpoint, { log }));
  }
  port.postMessage({ kind: 'ready' } satisfies SandboxReply);
}

port.on('message', (message: SandboxInit | SandboxRequest) => {
  if (message.kind === 'init') {
    init(message);
    return;
  }
  const request = message;
  const handler = handlers.get(request.functionArn);
  if (!handler) {
    port.postMessage({ kind: 'service-error', id: request.id, name: 'Lambda.ResourceNotFoundException', message: `Function not found: ${request.functionArn}` } satisfies SandboxReply);
    return;
  }
  handler(request.event).then(
    (result) => port.postMessage({ kind: 'result', id: request.id, result } satisfies SandboxReply),
    (err: unknown) => port.postMessage({ kind: 'error', id: request.id, payload: errorDocumentOf(err) } satisfies SandboxReply),
  );
});
