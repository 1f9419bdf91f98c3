/**
 * Reading form-encoded parameters the way Stripe does. stripe-node sends everything as strings
 * (`a[b][0][c]=1`, booleans as "true"/"false", "" to unset), parsed here with qs into nested objects.
 */
import { invalidRequest, missingParam, unknownParam } from './errors';

export type Params = Record<string, unknown>;

export function isRecord(value: unknown): value is Params {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reject parameters Stripe would not recognise, so typos in the caller fail loudly as they would in production. */
export function rejectUnknown(params: Params, allowed: readonly string[], prefix = ''): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) throw unknownParam(prefix ? `${prefix}[${key}]` : key);
  }
}

export function optString(params: Params, name: string, param = name): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidRequest(`Invalid string: ${param}`, param);
  return value;
}

export function reqString(params: Params, name: string, param = name): string {
  const value = optString(params, name, param);
  if (value === undefined || value === '') throw missingParam(param);
  return value;
}

export function optInt(params: Params, name: string, param = name): number | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) {
    throw invalidRequest(`Invalid integer: ${typeof value === 'string' ? value : param}`, param);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw invalidRequest(`Invalid integer: ${value}`, param);
  return n;
}

export function optBool(params: Params, name: string, param = name): boolean | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw invalidRequest(`Invalid boolean: ${String(value)}`, param);
}

export function optEnum<T extends string>(params: Params, name: string, values: readonly T[], param = name): T | undefined {
  const value = optString(params, name, param);
  if (value === undefined) return undefined;
  if (!(values as readonly string[]).includes(value)) {
    throw invalidRequest(`Invalid ${param}: must be one of ${values.join(', ')}`, param);
  }
  return value as T;
}

export function optObject(params: Params, name: string, param = name): Params | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (!isRecord(value)) throw invalidRequest(`Invalid object`, param);
  return value;
}

/** qs turns `a[0]=x&a[1]=y` into an array, but into an object for large or sparse indices: accept both. */
export function optArray(params: Params, name: string, param = name): unknown[] | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value;
  if (isRecord(value)) return Object.keys(value).sort((a, b) => Number(a) - Number(b)).map((k) => value[k]);
  if (typeof value === 'string') return [value];
  throw invalidRequest(`Invalid array`, param);
}

export function expandParam(params: Params): string[] {
  return (optArray(params, 'expand') ?? []).map((v) => {
    if (typeof v !== 'string') throw invalidRequest('Invalid expand', 'expand');
    return v;
  });
}

/**
 * Stripe's metadata rules: up to 50 keys, keys up to 40 characters, values up to 500.
 * `metadata=""` clears everything; `metadata[key]=""` removes one key (returned as null here).
 */
export function metadataParam(params: Params, name = 'metadata', param = name): Record<string, string | null> | '' | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (value === '') return '';
  if (!isRecord(value)) throw invalidRequest('Invalid object', param);
  const out: Record<string, string | null> = {};
  const keys = Object.keys(value);
  if (keys.length > 50) throw invalidRequest('You can specify up to 50 keys in metadata.', param);
  for (const key of keys) {
    const v = value[key];
    if (typeof v !== 'string') throw invalidRequest(`Invalid metadata value for key ${key}`, `${param}[${key}]`);
    if (key.length > 40) throw invalidRequest(`Metadata keys can be at most 40 characters long: ${key}`, `${param}[${key}]`);
    if (v.length > 500) throw invalidRequest(`Metadata values can have up to 500 characters, but you passed in a value that is ${v.length} characters.`, `${param}[${key}]`);
    out[key] = v === '' ? null : v;
  }
  return out;
}

/** Applies a metadata update to existing metadata; returns the new metadata. */
export function mergeMetadata(current: Record<string, string>, update: Record<string, string | null> | ''): Record<string, string> {
  if (update === '') return {};
  const next = { ...current };
  for (const [key, value] of Object.entries(update)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}

/** Metadata given at creation: "" values are simply dropped. */
export function createMetadata(params: Params, name = 'metadata', param = name): Record<string, string> {
  const update = metadataParam(params, name, param);
  return update === undefined ? {} : mergeMetadata({}, update);
}

export function validUrl(value: string, param: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw invalidRequest('Not a valid URL', param, 'url_invalid');
  }
  return value;
}

const knownCurrencies = new Set(Intl.supportedValuesOf('currency').map((c) => c.toLowerCase()));

/** Stripe accepts any case and answers in lowercase. */
export function currencyParam(params: Params, name: string, param = name): string {
  const value = reqString(params, name, param);
  const lower = value.toLowerCase();
  if (!/^[a-z]{3}$/.test(lower) || !knownCurrencies.has(lower)) throw invalidRequest(`Invalid currency: ${value}.`, param);
  return lower;
}
