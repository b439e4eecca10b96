/**
 * Structured logs: one JSON object per line on stderr. Callers pass named fields, never whole
 * requests, events, credentials or tokens.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(minLevel: LogLevel | 'silent' = 'info', component = 'local'): Logger {
  return {
    log(level, msg, fields) {
      if (minLevel === 'silent' || ORDER[level] < ORDER[minLevel]) return;
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...fields })}\n`);
    },
  };
}

export const silentLogger: Logger = { log() {} };

/**
 * A task function's log line (tasks/handler.ts: a level, `msg` and fields) as a stack log line
 * naming the function. Task successes are debug noise locally; warnings stay warnings.
 */
export function logFunctionLine(logger: Logger, functionArn: string, line: Record<string, unknown>): void {
  const { level, msg, ...fields } = line;
  logger.log(level === 'warn' ? 'warn' : 'debug', String(msg), { functionArn, ...fields });
}
