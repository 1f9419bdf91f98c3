/** "2026-11-27 20:46 UTC": how the console states a moment (to the minute, in UTC, sortable by eye). */
export function consoleTime(date: Date | string | null): string | null {
  if (date === null) return null;
  return `${new Date(date).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
