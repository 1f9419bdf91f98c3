import { describe, expect, it } from 'vitest';
import { clientNetwork } from '../src/security/client-network';

describe('the network a donor counts as for rate limits', () => {
  it('is the address itself for IPv4, also when written as IPv4-mapped IPv6', () => {
    expect(clientNetwork('203.0.113.7')).toBe('203.0.113.7');
    expect(clientNetwork('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('is the /64 for IPv6, however the address is written', () => {
    const net = '2001:db8:aa:bb::/64';
    for (const ip of ['2001:db8:aa:bb::1', '2001:0db8:00aa:00bb:0000:0000:0000:0001', '2001:DB8:AA:BB:ffff:1:2:3', '2001:db8:aa:bb:1::', '2001:db8:aa:bb::ff%eth0']) {
      expect(clientNetwork(ip)).toBe(net);
    }
    expect(clientNetwork('2001:db8:aa:bc::1')).toBe('2001:db8:aa:bc::/64');
    expect(clientNetwork('::1')).toBe('0:0:0:0::/64');
    expect(clientNetwork('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64');
  });

  it('leaves anything else as it is', () => {
    expect(clientNetwork('unknown')).toBe('unknown');
  });
});
