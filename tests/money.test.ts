import { describe, expect, it } from 'vitest';
import { formatCharge, formatMoney, grossUpForFees, minorToMajorString, parseMajorAmount } from '../src/money';

describe('amounts typed by supporters', () => {
  it.each([
    ['25', 'usd', 2500],
    ['37.50', 'usd', 3750],
    ['37.5', 'usd', 3750],
    ['0.99', 'eur', 99],
    ['500', 'jpy', 500],
    [' 25 ', 'usd', 2500],
  ])('reads %j in %s as %i minor units', (input, currency, minor) => {
    expect(parseMajorAmount(input, currency)).toEqual({ ok: true, minor });
  });

  it.each([
    ['1,000', 'format'], ['1e3', 'format'], ['-5', 'format'], ['+5', 'format'], ['$5', 'format'], ['5.', 'format'],
    ['.5', 'format'], ['abc', 'format'], ['', 'format'], ['NaN', 'format'], ['Infinity', 'format'], ['0x10', 'format'],
    ['37.505', 'decimals'],
  ])('rejects %j (%s)', (input, reason) => {
    expect(parseMajorAmount(input, 'usd')).toEqual({ ok: false, reason });
  });

  it('rejects decimals for zero-decimal currencies', () => {
    expect(parseMajorAmount('500.5', 'jpy')).toEqual({ ok: false, reason: 'decimals' });
  });
});

describe('money display', () => {
  it('formats minor units exactly, without float rounding', () => {
    expect(formatMoney(5_000_000, 'usd')).toBe('$50,000');
    expect(formatMoney(3750, 'usd')).toBe('$37.50');
    expect(formatMoney(1, 'usd')).toBe('$0.01');
    expect(formatMoney(500, 'jpy')).toBe('¥500');
    expect(formatMoney(900_719_925_474_099, 'usd')).toBe('$9,007,199,254,740.99');
  });

  it('writes form values in major units', () => {
    expect(minorToMajorString(2500, 'usd')).toBe('25');
    expect(minorToMajorString(3750, 'usd')).toBe('37.50');
    expect(minorToMajorString(5, 'usd')).toBe('0.05');
    expect(minorToMajorString(500, 'jpy')).toBe('500');
  });
});

describe('covering fees', () => {
  it('grosses the gift up so the organisation receives it in full after percent + fixed fees', () => {
    const fee = { percentBps: 290, fixedMinor: 30 };
    const total = grossUpForFees(2500, fee);
    expect(total).toBe(2606);
    const feeCharged = Math.round((total * fee.percentBps) / 10_000) + fee.fixedMinor;
    expect(total - feeCharged).toBeGreaterThanOrEqual(2500);
  });

  it('charges nothing extra when there are no fees', () => {
    expect(grossUpForFees(2500, { percentBps: 0, fixedMinor: 0 })).toBe(2500);
  });
});

describe('amounts charged (receipts, statements)', () => {
  it('always show the minor digits', () => {
    expect(formatCharge(3700, 'usd')).toBe('$37.00');
    expect(formatCharge(3750, 'usd')).toBe('$37.50');
    expect(formatCharge(-1250, 'usd')).toBe('-$12.50');
    expect(formatCharge(500, 'jpy')).toBe('¥500');
  });
});
