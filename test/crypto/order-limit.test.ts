import { describe, expect, it } from 'vitest'
import { OrderLimitError } from '../../src/crypto/errors.js'
import { Identity } from '../../src/crypto/identity.js'
import {
  CLOCK_SKEW_MS, MAX_ORDER_LIMIT_TTL_MS, ORDER_LIMIT_TTL_MS, type OrderLimit, type OrderLimitExpectation,
  encodeOrderLimit, newPieceId, newSerial, signOrderLimit, signOrderProof, verifyOrderLimit
} from '../../src/crypto/order-limit.js'

const coordinator = Identity.generate()
const node = Identity.generate()
const gateway = Identity.generate()
const other = Identity.generate()
const NOW = 1_750_000_000_000
const PIECE = newPieceId()

function limit (overrides: Partial<OrderLimit> = {}): OrderLimit {
  return {
    version: 1,
    serial: newSerial(),
    coordinatorId: coordinator.id,
    nodeId: node.id,
    pieceId: PIECE,
    action: 'put',
    maxBytes: 1000,
    issuedAt: NOW,
    expiresAt: NOW + ORDER_LIMIT_TTL_MS,
    downloaderKey: gateway.publicKey,
    ...overrides
  }
}
const EXPECT: OrderLimitExpectation = { coordinatorKey: coordinator.publicKey, nodeId: node.id, pieceId: PIECE, action: 'put', now: NOW }

function reasonOf (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(OrderLimitError)
    return (err as OrderLimitError).reason
  }
  throw new Error('expected a rejection')
}

describe('order limits', () => {
  it('a valid limit and proof verify and round-trip every field', () => {
    const l = limit()
    expect(verifyOrderLimit(signOrderLimit(coordinator, l), signOrderProof(gateway, l), EXPECT)).toEqual(l)
  })

  it('each defect is refused with its reason', () => {
    const l = limit()
    const bytes = encodeOrderLimit(l)
    const check = (header: string | undefined, proof: string | undefined, expect2: Partial<OrderLimitExpectation> = {}): string =>
      reasonOf(() => verifyOrderLimit(header, proof, { ...EXPECT, ...expect2 }))
    const proof = signOrderProof(gateway, l)
    expect(check(undefined, proof)).toBe('missing')
    expect(check('', proof)).toBe('missing')
    expect(check('garbage', proof)).toBe('malformed')
    expect(check('a.b.c', proof)).toBe('malformed')
    expect(check(`${Buffer.from('[1,2]').toString('base64url')}.AA`, proof)).toBe('malformed')
    expect(check(`${bytes.toString('base64url')}.${other.sign(bytes).toString('base64url')}`, proof)).toBe('bad-signature')
    const tampered = Buffer.from(bytes.toString('utf8').replace('1000', '9999'))
    expect(check(`${tampered.toString('base64url')}.${coordinator.sign(bytes).toString('base64url')}`, proof)).toBe('bad-signature')
    const byOther = limit({ coordinatorId: other.id })
    expect(check(signOrderLimit(other, byOther), signOrderProof(gateway, byOther))).toBe('untrusted-coordinator')
    const header = signOrderLimit(coordinator, l)
    expect(check(header, proof, { nodeId: other.id })).toBe('wrong-node')
    expect(check(header, proof, { pieceId: newPieceId() })).toBe('wrong-piece')
    expect(check(header, proof, { action: 'get' })).toBe('wrong-action')
    expect(check(header, proof, { now: l.expiresAt })).toBe('expired')
    expect(check(header, proof, { now: NOW - CLOCK_SKEW_MS - 1 })).toBe('not-yet-valid')
    const long = limit({ expiresAt: NOW + MAX_ORDER_LIMIT_TTL_MS + 1 })
    expect(check(signOrderLimit(coordinator, long), signOrderProof(gateway, long))).toBe('malformed')
    expect(check(header, undefined)).toBe('bad-request-signature')
    expect(check(header, signOrderProof(other, l))).toBe('bad-request-signature')
    expect(check(header, signOrderProof(gateway, limit()))).toBe('bad-request-signature') // proof of another serial
  })

  it('the clock skew allowance accepts a limit issued slightly in the future', () => {
    const l = limit({ issuedAt: NOW + CLOCK_SKEW_MS - 1 })
    expect(verifyOrderLimit(signOrderLimit(coordinator, l), signOrderProof(gateway, l), EXPECT).serial).toBe(l.serial)
  })
})
