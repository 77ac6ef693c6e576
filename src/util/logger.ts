/**
 * A scoped logger: one line per event on stderr, `time level scope message {fields}`. Created by a
 * composition root and handed to the services it wires (no global logger). SHOAL_LOG sets the level
 * (debug, info, warn, error, silent; default info).
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
  /** A logger for a sub-component, e.g. `node:store`. */
  child(scope: string): Logger
}

export interface LoggerInit {
  level?: LogLevel
  /** Where lines go; default process.stderr. */
  write?: (line: string) => void
}

/** Parses a level name; throws with the accepted names when it is not one. */
export function parseLogLevel (value: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel
  throw new RangeError(`log level "${value}" is not one of ${LOG_LEVELS.join(', ')}`)
}

/** Creates a logger for `scope`. */
export function createLogger (scope: string, init: LoggerInit = {}): Logger {
  const level = init.level ?? (process.env.SHOAL_LOG !== undefined ? parseLogLevel(process.env.SHOAL_LOG) : 'info')
  const write = init.write ?? ((line: string) => { process.stderr.write(line) })
  const min = LOG_LEVELS.indexOf(level)
  const emit = (lvl: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (LOG_LEVELS.indexOf(lvl) < min) return
    let line = `${new Date().toISOString()} ${lvl.padEnd(5)} ${scope} ${message}`
    if (fields !== undefined && Object.keys(fields).length > 0) line += ` ${JSON.stringify(fields, errorReplacer)}`
    write(line + '\n')
  }
  return {
    debug: (m, f) => { emit('debug', m, f) },
    info: (m, f) => { emit('info', m, f) },
    warn: (m, f) => { emit('warn', m, f) },
    error: (m, f) => { emit('error', m, f) },
    child: (sub) => createLogger(`${scope}:${sub}`, { level, write })
  }
}

function errorReplacer (_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message }
  if (typeof value === 'bigint') return value.toString()
  return value
}

/** A logger that drops everything (for unit tests). */
export const silentLogger: Logger = createLogger('silent', { level: 'silent' })
