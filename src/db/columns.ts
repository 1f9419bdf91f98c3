import type { ValueTransformer } from 'typeorm';

/** pg returns BIGINT as a string; money never exceeds 2^53 minor units, so a JS integer is exact. */
export const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

export const bigintArray: ValueTransformer = {
  to: (value: number[] | undefined) => value,
  from: (value: string[] | null) => (value ?? []).map(Number),
};
