/** pino-compatible subset; the emulator is silent unless given one. Never pass it card numbers or emails. */
export interface EmulatorLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export const silentLogger: EmulatorLogger = {
  info() {},
  warn() {},
};
