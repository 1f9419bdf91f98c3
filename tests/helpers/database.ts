import { inject } from 'vitest';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../../src/db/throwaway-database';

export type TestDatabase = ThrowawayDatabase;

/**
 * A fresh, empty database for one test file, so files never collide: on TEST_DATABASE_URL's server
 * (as .ci/run's first pass does), or on the embedded server the run started (tests/helpers/global-setup.ts).
 */
export function createTestDatabase(): Promise<TestDatabase> {
  return createThrowawayDatabase(inject('testDatabaseServerUrl'), 'kettle_test');
}
