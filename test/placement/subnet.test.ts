import { describe, expect, it } from 'vitest'
import { DEFAULT_POLICY, InvalidAddressError, subnetOf } from '../../src/placement/index.js'

describe('subnetOf', () => {
  it('maps IPv4 to its /24', () => {
    expect(subnetOf('203.0.113.7')).toBe('203.0.113.0/24')
    expect(subnetOf('127.0.0.1')).toBe('127.0.0.0/24')
    expect(subnetOf('0.0.0.0')).toBe('0.0.0.0/24')
    expect(subnetOf('255.255.255.255')).toBe('255.255.255.0/24')
  })

  it('maps IPv6 to its /48 in RFC 5952 form', () => {
    expect(subnetOf('2001:db8:abcd:12::1')).toBe('2001:db8:abcd::/48')
    expect(subnetOf('2001:0DB8:0000:0042:0000:8a2e:0370:7334')).toBe('2001:db8::/48')
    expect(subnetOf('2a01:4f8:c17:b8f::2')).toBe('2a01:4f8:c17::/48')
    expect(subnetOf('::1')).toBe('::/48')
    expect(subnetOf('::')).toBe('::/48')
    expect(subnetOf('fe80::1%eth0')).toBe('fe80::/48')
    expect(subnetOf('[2001:db8:1:2::3]')).toBe('2001:db8:1::/48')
    expect(subnetOf('1:2:3:4:5:6:7:8')).toBe('1:2:3::/48')
    expect(subnetOf('1:0:3:4:5:6:7:8')).toBe('1:0:3::/48')
  })

  it('treats IPv4-mapped IPv6 as the IPv4 address', () => {
    expect(subnetOf('::ffff:203.0.113.7')).toBe('203.0.113.0/24')
    expect(subnetOf('::FFFF:cb00:7107')).toBe('203.0.113.0/24')
    expect(subnetOf('0:0:0:0:0:ffff:127.0.0.1')).toBe('127.0.0.0/24')
  })

  it('throws InvalidAddressError on anything else', () => {
    const garbage = [
      '', 'localhost', 'example.com', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', '1..2.3',
      '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::1', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8::',
      '::1.2.3', '1.2.3.4::', '::ffff:1.2.3.4:5', '[::1', ' ', '%eth0'
    ]
    for (const address of garbage) {
      expect(() => subnetOf(address), address).toThrow(InvalidAddressError)
      try {
        subnetOf(address)
      } catch (err) {
        expect((err as Error).name).toBe('InvalidAddressError')
      }
    }
  })
})

describe('DEFAULT_POLICY', () => {
  it('survives a provider, a region or an operator; subnet is opt-in', () => {
    expect(DEFAULT_POLICY).toEqual({ dimensions: ['provider', 'region', 'operator'], margin: 0 })
    expect(Object.isFrozen(DEFAULT_POLICY)).toBe(true)
  })
})
