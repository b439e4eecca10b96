/**
 * The local Lambda runtime: the task functions run in a sandbox, a worker thread of their own
 * (worker.ts), as Lambda runs them apart from the services they call. The state machine
 * invokes a function by ARN; the sandbox runs it and answers with its result or its error document
 * (errorType, errorMessage, trace: invocation.ts), which Step Functions turns into the Error that
 * Retry and Catch match and the Cause they store.
 *
 * The sandbox also gives the stack a second core: the tasks' SDK work (building requests, signing)
 * runs beside the stand-ins (verifying signatures, evaluating policies, storing data) instead of
 * taking turns with them on one event loop.
 *
 * If the sandbox dies, the invocations in flight fail with `Lambda.ServiceException` (a transient
 * error the definition retries) and the next invocation starts a fresh sandbox, as Lambda replaces
 * a failed execution environment.
 */
import { Worker } from 'node:worker_threads';
import type { TaskHandler } from '../../../../tasks/task-modules.ts';
import { FunctionError, LambdaServiceError } from './invocation.ts';
import type { SandboxFunction, SandboxInit, SandboxReply, SandboxRequest } from './protocol.ts';
import { logFunctionLine, type Logger } from '../../edge/log.ts';

const WORKER_URL = new URL('./worker.mjs', import.meta.url);

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

interface Sandbox {
  worker: Worker;
  ready: Promise<void>;
  failStart: (err: Error) => void;
  pending: Map<number, Pending>;
  failed: boolean;
}

export interface LambdaRuntimeOptions {
  endpoint: string;
  functions: SandboxFunction[];
}

export class LocalLambdaRuntime {
  private sandbox: Sandbox | undefined;
  private options: LambdaRuntimeOptions | undefined;
  private nextId = 1;
  private stopped = false;

  /**
   * Starts loading the sandbox's code at once, so that it loads while the rest of the stack starts;
   * `start()` then gives it the functions.
   */
  constructor(private readonly logger: Logger) {
    this.sandbox = this.spawn();
  }

  /** Builds the functions in the sandbox; resolves once every one is ready to be invoked. */
  async start(options: LambdaRuntimeOptions): Promise<void> {
    this.options = options;
    const sandbox = this.current();
    sandbox.worker.postMessage({ kind: 'init', ...options } satisfies SandboxInit);
    await sandbox.ready;
  }

  /** A handler per function ARN, invoking it in the sandbox. */
  handlers(): Map<string, TaskHandler> {
    return new Map((this.options?.functions ?? []).map((f) => [f.functionArn, (event: unknown) => this.invoke(f.functionArn, event)]));
  }

  async invoke(functionArn: string, event: unknown): Promise<unknown> {
    if (this.stopped) throw new LambdaServiceError('Lambda.ServiceException', 'The local Lambda runtime has stopped.');
    if (!this.options) throw new Error('LocalLambdaRuntime.start() has not been called');
    let sandbox = this.sandbox;
    if (!sandbox) {
      // The last one died: a fresh sandbox, given the same functions.
      sandbox = this.current();
      sandbox.worker.postMessage({ kind: 'init', ...this.options } satisfies SandboxInit);
    }
    await sandbox.ready;
    // The sandbox may have died while this invocation waited for it: the invocation was in flight.
    if (sandbox.failed) throw new LambdaServiceError('Lambda.ServiceException', 'The local Lambda sandbox stopped before the function ran.');
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      sandbox.pending.set(id, { resolve, reject });
      sandbox.worker.postMessage({ kind: 'invoke', id, functionArn, event } satisfies SandboxRequest);
    });
  }

  /** The sandbox's thread id (a new one after each replacement); undefined when none is running. */
  get threadId(): number | undefined {
    return this.sandbox?.worker.threadId;
  }

  /**
   * Ends the current sandbox as a failed execution environment ends: invocations in flight fail
   * with `Lambda.ServiceException`, and the next invocation starts a fresh sandbox.
   */
  async recycle(): Promise<void> {
    const sandbox = this.sandbox;
    if (!sandbox) return;
    this.fail(sandbox, 'recycled');
    await sandbox.worker.terminate();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const sandbox = this.sandbox;
    this.sandbox = undefined;
    if (sandbox) await sandbox.worker.terminate();
  }

  private current(): Sandbox {
    this.sandbox ??= this.spawn();
    return this.sandbox;
  }

  private spawn(): Sandbox {
    const logger = this.logger;
    const worker = new Worker(WORKER_URL, { name: 'local-lambda-sandbox' });
    worker.unref();
    const pending = new Map<number, Pending>();
    let markReady: () => void = () => {};
    let failStart: (err: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    ready.catch(() => {}); // Observed by invoke() and start(); a late failure must not be unhandled.
    const sandbox: Sandbox = { worker, ready, failStart, pending, failed: false };

    worker.on('message', (reply: SandboxReply) => {
      switch (reply.kind) {
        case 'ready':
          markReady();
          return;
        case 'log':
          logFunctionLine(logger, reply.functionArn, reply.line);
          return;
        case 'result':
        case 'error':
        case 'service-error': {
          const p = pending.get(reply.id);
          if (!p) return;
          pending.delete(reply.id);
          if (reply.kind === 'result') p.resolve(reply.result);
          else if (reply.kind === 'error') p.reject(new FunctionError(reply.payload));
          else p.reject(new LambdaServiceError(reply.name, reply.message));
        }
      }
    });
    worker.on('error', (err) => this.fail(sandbox, err.message));
    worker.on('exit', (code) => this.fail(sandbox, `exit code ${code}`));
    return sandbox;
  }

  /** A sandbox ended: its invocations in flight fail, and the next invocation starts a new one. */
  private fail(sandbox: Sandbox, reason: string): void {
    if (this.sandbox === sandbox) this.sandbox = undefined;
    if (sandbox.failed) return;
    sandbox.failed = true;
    if (!this.stopped) this.logger.log('warn', 'lambda.sandbox.failed', { reason, inFlight: sandbox.pending.size });
    const err = new LambdaServiceError('Lambda.ServiceException', `The local Lambda sandbox stopped: ${reason}`);
    sandbox.failStart(err);
    for (const p of sandbox.pending.values()) p.reject(err);
    sandbox.pending.clear();
  }
}
