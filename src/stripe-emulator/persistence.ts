/**
 * Keeps the emulator's state in a JSON file across restarts. The offline demo's Kettle keeps its database in
 * DATA_DIR; without this, "Stripe" would forget its customers and subscriptions on every restart and the demo's
 * donors could no longer change or cancel their monthly gifts.
 *
 * One JSON document, rewritten whole: loaded once at start, saved at most every SAVE_DELAY_MS after a change
 * (write a temporary file, then rename it over the old one, so a crash leaves the old or the new state, never half
 * of one), and once more on close().
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type Stripe from 'stripe';
import { isTestCard } from './cards';
import type { EmulatorLogger } from './logger';
import type { EmulatorStore } from './store';

/** The shortest wait between saves; a save that takes long to serialise waits longer (see StateSaver.schedule). */
export const SAVE_DELAY_MS = 200;
/** Serialising blocks the event loop: it may take at most this share of the time between saves. */
const MAX_SERIALISE_SHARE = 0.1;
/** Events kept in the file, the newest; older ones are dropped to bound its size (Kettle reads 72 hours back). */
export const MAX_SAVED_EVENTS = 5_000;

const FORMAT = 'kettle-stripe-emulator-state';
const VERSION = 1;

/**
 * The store's Maps kept in the file. Not kept: `idempotency` (after a restart a replayed Idempotency-Key is a new
 * request; its stored responses would grow the file without bound).
 */
const SAVED_MAPS = [
  'products', 'prices', 'customers', 'paymentMethods', 'checkoutSessions', 'paymentIntents', 'charges', 'refunds',
  'disputes', 'subscriptions', 'invoices', 'invoicePayments', 'portalSessions', 'balanceTransactions', 'sessionExtras',
  'cardNumbers',
] as const satisfies readonly (keyof EmulatorStore)[];
type SavedMap = (typeof SAVED_MAPS)[number];

interface StateFile {
  format: typeof FORMAT;
  version: typeof VERSION;
  savedAt: string;
  /** Each Map as its entries, in insertion order (lists show the newest first by it when `created` ties). */
  maps: Record<SavedMap, [string, unknown][]>;
  events: Stripe.Event[];
  /** Per kept event: whether a webhook delivery succeeded (events.list `delivery_success`). */
  delivered: [string, boolean][];
}

export interface StatePersistence {
  /** Saves what is not saved yet; later changes are not saved. */
  close(): Promise<void>;
}

/**
 * Loads `file` into the (empty) store when it exists, then saves the store to it after each change. A file that
 * cannot be read or understood is moved aside (`<file>.corrupt-<time>`) and the emulator starts empty; if even
 * that fails, nothing is saved (rather than overwrite what could not be read).
 */
export async function persistStore(store: EmulatorStore, file: string, logger: EmulatorLogger): Promise<StatePersistence> {
  const loaded = await loadInto(store, file, logger);
  if (loaded === 'unusable') return { close: async () => {} };
  const saver = new StateSaver(store, file, logger);
  store.onChange(() => saver.schedule());
  return saver;
}

/**
 * The hosted pages' URLs of loaded Checkout and portal sessions, moved to where this emulator listens (the port is
 * random unless fixed, so a session made before a restart would point at the old one).
 */
export function pointSessionUrlsAt(store: EmulatorStore, publicUrl: string): void {
  for (const session of store.checkoutSessions.values()) if (session.url) session.url = `${publicUrl}/checkout/${session.id}`;
  for (const session of store.portalSessions.values()) session.url = `${publicUrl}/portal/${session.id}`;
}

type LoadOutcome = 'loaded' | 'absent' | 'moved-aside' | 'unusable';

async function loadInto(store: EmulatorStore, file: string, logger: EmulatorLogger): Promise<LoadOutcome> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    return moveAside(file, `it cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, logger);
  }
  let state: StateFile;
  try {
    state = parseState(text);
  } catch (err) {
    // Our own messages only: JSON.parse's quote the file, which holds customers' emails.
    return moveAside(file, err instanceof StateFileError ? err.message : 'it is not valid JSON', logger);
  }
  fill(store, state);
  logger.info(
    { file, customers: store.customers.size, subscriptions: store.subscriptions.size, events: store.events.length, savedAt: state.savedAt },
    'stripe emulator: state loaded',
  );
  return 'loaded';
}

async function moveAside(file: string, reason: string, logger: EmulatorLogger): Promise<LoadOutcome> {
  const movedTo = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    await rename(file, movedTo);
  } catch (err) {
    logger.warn({ file, reason, error: (err as NodeJS.ErrnoException).code }, 'stripe emulator: state file unusable and cannot be moved aside; starting empty and saving nothing');
    return 'unusable';
  }
  logger.warn({ file, reason, movedTo }, 'stripe emulator: state file unusable; moved aside, starting empty');
  return 'moved-aside';
}

class StateFileError extends Error {}

/** Checks the file's outline (not every field of every object: the file is the emulator's own). */
function parseState(text: string): StateFile {
  const data = JSON.parse(text) as unknown;
  if (!isObject(data) || data.format !== FORMAT) throw new StateFileError('it is not an emulator state file');
  if (data.version !== VERSION) throw new StateFileError(`its format version ${JSON.stringify(data.version)} is not ${VERSION}`);
  const { maps, events, delivered } = data;
  if (!isObject(maps)) throw new StateFileError('it has no maps');
  for (const name of SAVED_MAPS) {
    const entries = maps[name];
    const valueOk = name === 'cardNumbers' ? (v: unknown) => typeof v === 'string' : isObject;
    if (!Array.isArray(entries) || !entries.every((e) => isEntry(e) && valueOk(e[1]))) throw new StateFileError(`its ${name} are malformed`);
  }
  if (!Array.isArray(events) || !events.every((e) => isObject(e) && typeof e.id === 'string' && typeof e.type === 'string')) {
    throw new StateFileError('its events are malformed');
  }
  if (!Array.isArray(delivered) || !delivered.every((e) => isEntry(e) && typeof e[1] === 'boolean')) throw new StateFileError('its delivered flags are malformed');
  return data as unknown as StateFile;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEntry(value: unknown): value is [string, unknown] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string';
}

function fill(store: EmulatorStore, state: StateFile): void {
  for (const name of SAVED_MAPS) {
    const map = store[name] as Map<string, unknown>;
    for (const [id, value] of state.maps[name]) map.set(id, value);
  }
  const delivered = new Map(state.delivered);
  for (const event of state.events) {
    store.events.push(event);
    store.delivered.set(event.id, delivered.get(event.id) ?? false);
  }
}

function snapshot(store: EmulatorStore): StateFile {
  const events = store.events.slice(-MAX_SAVED_EVENTS);
  const maps = Object.fromEntries(SAVED_MAPS.map((name) => [name, [...(store[name] as Map<string, unknown>)]])) as StateFile['maps'];
  // Only test card numbers reach the disk. Any other number is someone's real card typed into the demo: it was
  // declined as a live card in test mode, and a missing number is declined the same way (payments.ts).
  maps.cardNumbers = [...store.cardNumbers].filter(([, number]) => isTestCard(number));
  return {
    format: FORMAT,
    version: VERSION,
    savedAt: new Date().toISOString(),
    maps,
    events,
    delivered: events.map((e) => [e.id, store.delivered.get(e.id) ?? false]),
  };
}

class StateSaver implements StatePersistence {
  private timer: NodeJS.Timeout | null = null;
  private dirty = false;
  private closed = false;
  /** Writes run one after another. */
  private writes: Promise<void> = Promise.resolve();
  private tempCount = 0;
  private delayMs = SAVE_DELAY_MS;

  constructor(
    private readonly store: EmulatorStore,
    private readonly file: string,
    private readonly logger: EmulatorLogger,
  ) {}

  /**
   * A change: saved after SAVE_DELAY_MS with whatever else changes meanwhile, or later when the state is so big
   * that serialising it takes more than MAX_SERIALISE_SHARE of that (about 0.1 s for 20 MB: seconds apart then).
   */
  schedule(): void {
    this.dirty = true;
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.delayMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }

  private flush(): Promise<void> {
    this.writes = this.writes.then(() => this.write());
    return this.writes;
  }

  private async write(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const started = performance.now();
    const text = JSON.stringify(snapshot(this.store));
    this.delayMs = Math.max(SAVE_DELAY_MS, (performance.now() - started) / MAX_SERIALISE_SHARE);
    const temp = `${this.file}.${process.pid}-${++this.tempCount}.tmp`;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      // 0600: the file holds the emulated customers' names and emails.
      const handle = await open(temp, 'w', 0o600);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.file);
    } catch (err) {
      this.dirty = true; // the next change, or close(), tries again
      this.logger.warn({ file: this.file, error: (err as NodeJS.ErrnoException).code ?? String(err) }, 'stripe emulator: could not save its state');
      await rm(temp, { force: true }).catch(() => {});
    }
  }
}
