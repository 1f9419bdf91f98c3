import { MoneyLoop1764230400000 } from './1764230400000-MoneyLoop';

/** Every migration, oldest first. Listed explicitly so compiled and test runs load the same set. */
export const migrations = [MoneyLoop1764230400000];
