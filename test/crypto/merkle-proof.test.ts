/**
 * RFC 9162 inclusion proofs (audit paths): generation and verification against the published
 * Certificate Transparency vectors, then exhaustively against MerkleHasher's roots.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  MERKLE_BLOCK_SIZE, MerkleHasher, inclusionProof, leafCount, leafHash, verifyInclusion
} from '../../src/crypto/merkle.js'

// RFC 6962 / RFC 9162 test vectors, copied from transparency-dev/merkle, proof/verify_test.go
// (commit 02194e9afb6c1d95b5381350007963aa70fff472: `leaves`, `roots`, `inclusionProofs`; the same data
// as google/trillian's merkle tests and certificate-transparency-go). The Go table's leaf numbers are
// 1-based; `index` here is the 0-based leaf index RFC 9162 uses. ROOTS[n-1] is the root of n leaves.
const LEAVES = [
  '', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'
].map((hex) => Buffer.from(hex, 'hex'))
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'
].map((hex) => Buffer.from(hex, 'hex'))
const VECTORS: ReadonlyArray<{ index: number, size: number, proof: string[] }> = [
  { index: 0, size: 1, proof: [] },
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'
    ]
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'
    ]
  },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'
    ]
  }
]
/** From the same file: a 32-byte value that is no node of these trees, and MTH({}). */
const SOME_HASH = Buffer.from('abacaba000000000000000000000000000000000000000000060061e00123456', 'hex')
const EMPTY_TREE_HASH = Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex')

/** Every way of damaging a valid (leaf, index, size, proof, root) the Go tests probe, plus every bit of the proof. */
function corruptions (leaf: Buffer, index: number, size: number, proof: Buffer[], root: Buffer): Array<[string, () => boolean]> {
  const cases: Array<[string, () => boolean]> = [
    ['index - 1', () => verifyInclusion(leaf, index - 1, size, proof, root)],
    ['index + 1', () => verifyInclusion(leaf, index + 1, size, proof, root)],
    ['index ^ 2', () => verifyInclusion(leaf, index ^ 2, size, proof, root)],
    ['size * 2', () => verifyInclusion(leaf, index, size * 2, proof, root)],
    ['size / 2', () => verifyInclusion(leaf, index, Math.floor(size / 2), proof, root)],
    ['wrong leaf', () => verifyInclusion(SOME_HASH, index, size, proof, root)],
    ['short leaf', () => verifyInclusion(Buffer.from('WrongLeaf'), index, size, proof, root)],
    ['empty root', () => verifyInclusion(leaf, index, size, proof, EMPTY_TREE_HASH)],
    ['random root', () => verifyInclusion(leaf, index, size, proof, SOME_HASH)],
    ['trailing garbage', () => verifyInclusion(leaf, index, size, [...proof, Buffer.alloc(0)], root)],
    ['trailing root', () => verifyInclusion(leaf, index, size, [...proof, root], root)],
    ['preceding garbage', () => verifyInclusion(leaf, index, size, [Buffer.alloc(0), ...proof], root)],
    ['preceding root', () => verifyInclusion(leaf, index, size, [root, ...proof], root)]
  ]
  if (proof.length > 0) cases.push(['removed component', () => verifyInclusion(leaf, index, size, proof.slice(0, -1), root)])
  if (proof.length > 1) cases.push(['inserted component', () => verifyInclusion(leaf, index, size, [proof[0], SOME_HASH, ...proof.slice(1)], root)])
  for (let i = 0; i < proof.length; i++) {
    for (let byte = 0; byte < 32; byte++) {
      const wrong = proof.map((p) => Buffer.from(p))
      wrong[i][byte] ^= 0x08
      cases.push([`proof[${i}] byte ${byte}`, () => verifyInclusion(leaf, index, size, wrong, root)])
    }
  }
  for (let byte = 0; byte < 32; byte++) {
    const wrongLeaf = Buffer.from(leaf)
    wrongLeaf[byte] ^= 0x80
    cases.push([`leaf byte ${byte}`, () => verifyInclusion(wrongLeaf, index, size, proof, root)])
    const wrongRoot = Buffer.from(root)
    wrongRoot[byte] ^= 0x01
    cases.push([`root byte ${byte}`, () => verifyInclusion(leaf, index, size, proof, wrongRoot)])
  }
  return cases
}

describe('inclusion proofs (RFC 9162 section 2.1.3)', () => {
  it('produces exactly the published audit paths', () => {
    const hashes = LEAVES.map((l) => leafHash(l))
    for (const v of VECTORS) {
      const proof = inclusionProof(hashes.slice(0, v.size), v.index)
      expect(proof.map((p) => p.toString('hex')), `index ${v.index} of ${v.size}`).toEqual(v.proof)
    }
  })

  it('verifies the published audit paths against the published roots and refuses every corruption', () => {
    for (const v of VECTORS) {
      const what = `index ${v.index} of ${v.size}`
      const leaf = leafHash(LEAVES[v.index])
      const proof = v.proof.map((hex) => Buffer.from(hex, 'hex'))
      expect(verifyInclusion(leaf, v.index, v.size, proof, ROOTS[v.size - 1]), what).toBe(true)
      for (const [name, check] of corruptions(leaf, v.index, v.size, proof, ROOTS[v.size - 1])) {
        expect(check(), `${what}: ${name}`).toBe(false)
      }
    }
  })

  it('refuses what can never be a proof, without throwing', () => {
    const leaf = leafHash(Buffer.from('data'))
    // A one-leaf tree: the root is the leaf hash and the path is empty (Go's TestVerifyInclusionSingleEntry).
    expect(verifyInclusion(leaf, 0, 1, [], leaf)).toBe(true)
    expect(verifyInclusion(leaf, 0, 1, [], Buffer.alloc(0))).toBe(false)
    expect(verifyInclusion(Buffer.alloc(0), 0, 1, [], leaf)).toBe(false)
    for (const [index, size] of [[0, 0], [1, 0], [2, 1], [1, 1], [-1, 4], [0.5, 4], [0, Number.NaN], [0, 2 ** 60]]) {
      expect(verifyInclusion(leaf, index, size, [], leaf), `${index}/${size}`).toBe(false)
      expect(verifyInclusion(leaf, index, size, [leaf], EMPTY_TREE_HASH), `${index}/${size}`).toBe(false)
    }
    expect(verifyInclusion(leaf, 0, 2, 'nope' as unknown as Buffer[], leaf)).toBe(false)
    expect(verifyInclusion(leaf, 0, 2, [null as unknown as Buffer], leaf)).toBe(false)
    expect(verifyInclusion(null as unknown as Buffer, 0, 2, [leaf], leaf)).toBe(false)
  })

  it('every leaf of every tree of 1..70 leaves verifies against MerkleHasher, and nowhere else', () => {
    const blocks = Array.from({ length: 70 }, (_, i) => randomBytes(1 + (i % 40))) // distinct leaves
    const hashes = blocks.map((b) => leafHash(b))
    for (let size = 1; size <= 70; size++) {
      const hasher = new MerkleHasher()
      for (const h of hashes.slice(0, size)) hasher.addLeafHash(h)
      const root = hasher.root()
      for (let index = 0; index < size; index++) {
        const what = `index ${index} of ${size}`
        const proof = inclusionProof(hashes.slice(0, size), index)
        expect(verifyInclusion(hashes[index], index, size, proof, root), what).toBe(true)
        // The path is as long as the leaf is deep: at most ceil(log2(size)).
        expect(proof.length, what).toBeLessThanOrEqual(Math.ceil(Math.log2(size)))
        // Another leaf's hash, or this leaf at another position or in another tree size, fails.
        if (size > 1) expect(verifyInclusion(hashes[(index + 1) % size], index, size, proof, root), what).toBe(false)
        for (const other of [index - 1, index + 1]) {
          if (other >= 0 && other < size) expect(verifyInclusion(hashes[index], other, size, proof, root), `${what} as ${other}`).toBe(false)
        }
        // Not size ± 1: RFC 9162's algorithm binds the size only through the path's shape, which a
        // neighbouring size may share (the root then tells the trees apart). Doubling always deepens it.
        for (const otherSize of [size * 2, Math.floor(size / 2)]) {
          if (otherSize > index) expect(verifyInclusion(hashes[index], index, otherSize, proof, root), `${what} in ${otherSize}`).toBe(false)
        }
      }
    }
  })

  it('flipping any byte of a proof or leaf fails verification', () => {
    const hashes = Array.from({ length: 37 }, () => leafHash(randomBytes(100)))
    const hasher = new MerkleHasher()
    for (const h of hashes) hasher.addLeafHash(h)
    const root = hasher.root()
    for (const index of [0, 1, 18, 31, 32, 36]) {
      const proof = inclusionProof(hashes, index)
      expect(verifyInclusion(hashes[index], index, hashes.length, proof, root)).toBe(true)
      for (const [name, check] of corruptions(hashes[index], index, hashes.length, proof, root)) {
        expect(check(), `index ${index}: ${name}`).toBe(false)
      }
    }
  })

  it('proves blocks of a real piece against the streaming root', () => {
    const data = randomBytes(5 * MERKLE_BLOCK_SIZE + 123)
    const root = new MerkleHasher().update(data).root()
    const n = leafCount(data.length)
    expect(n).toBe(6)
    const hashes = Array.from({ length: n }, (_, i) => leafHash(data.subarray(i * MERKLE_BLOCK_SIZE, (i + 1) * MERKLE_BLOCK_SIZE)))
    for (let i = 0; i < n; i++) expect(verifyInclusion(hashes[i], i, n, inclusionProof(hashes, i), root)).toBe(true)
  })

  it('rejects an index outside the tree with RangeError', () => {
    const hashes = [leafHash(Buffer.from('a')), leafHash(Buffer.from('b'))]
    for (const bad of [-1, 2, 0.5, Number.NaN]) expect(() => inclusionProof(hashes, bad), String(bad)).toThrow(RangeError)
    expect(() => inclusionProof([], 0)).toThrow(RangeError)
    expect(inclusionProof(hashes.slice(0, 1), 0)).toEqual([])
  })
})

describe('leafCount', () => {
  it('counts MERKLE_BLOCK_SIZE blocks, a trailing partial block included', () => {
    expect(MERKLE_BLOCK_SIZE).toBe(8192)
    const cases: Array<[number, number]> = [[0, 0], [1, 1], [8191, 1], [8192, 1], [8193, 2], [16_384, 2], [64 * 1024 * 1024, 8192], [64 * 1024 * 1024 + 1, 8193]]
    for (const [size, leaves] of cases) expect(leafCount(size), String(size)).toBe(leaves)
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => leafCount(bad), String(bad)).toThrow(RangeError)
  })
})
