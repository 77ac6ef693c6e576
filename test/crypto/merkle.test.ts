import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { MERKLE_BLOCK_SIZE, MerkleHasher, leafHash, merkleRoot, nodeHash } from '../../src/crypto/merkle.js'

// RFC 6962 / RFC 9162 Merkle Tree Hash test vectors from Certificate Transparency's own test data:
// google/certificate-transparency-go, merkletree/merkle_tree_test.go (testLeaves / rootForTestLeaves),
// the same values as transparency-dev/merkle's testonly data. ROOTS[n-1] is MTH of the first n leaves.
const LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f'
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
]
/** MTH({}) = SHA-256() (RFC 9162 section 2.1.1). */
const EMPTY_ROOT = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/** The RFC's recursive definition, written here independently: split at the largest power of two < n. */
function referenceMth (leaves: readonly Buffer[]): Buffer {
  const sha = (...parts: Buffer[]): Buffer => {
    const h = createHash('sha256')
    for (const p of parts) h.update(p)
    return h.digest()
  }
  if (leaves.length === 0) return sha()
  if (leaves.length === 1) return sha(Buffer.from([0]), leaves[0])
  let k = 1
  while (k * 2 < leaves.length) k *= 2
  return sha(Buffer.from([1]), referenceMth(leaves.slice(0, k)), referenceMth(leaves.slice(k)))
}

function blocksOf (data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = []
  for (let off = 0; off < data.length; off += size) out.push(data.subarray(off, off + size))
  return out
}

describe('merkle', () => {
  it('matches the Certificate Transparency roots for 1..8 leaves', () => {
    for (let n = 1; n <= LEAVES.length; n++) {
      expect(merkleRoot(LEAVES.slice(0, n)).toString('hex'), `n=${n}`).toBe(ROOTS[n - 1])
    }
    expect(merkleRoot([]).toString('hex')).toBe(EMPTY_ROOT)
    expect(new MerkleHasher().digest()).toBe(EMPTY_ROOT)
  })

  it('leaf and node hashes use the RFC 9162 domain-separation prefixes', () => {
    expect(leafHash(Buffer.alloc(0)).toString('hex')).toBe(ROOTS[0])
    expect(nodeHash(leafHash(LEAVES[0]), leafHash(LEAVES[1])).toString('hex')).toBe(ROOTS[1])
  })

  it('agrees with the recursive definition for every tree size up to 70', () => {
    const leaves = Array.from({ length: 70 }, (_, i) => randomBytes(i % 5))
    for (let n = 0; n <= leaves.length; n++) {
      expect(merkleRoot(leaves.slice(0, n)).equals(referenceMth(leaves.slice(0, n))), `n=${n}`).toBe(true)
    }
  })

  it('streaming over blocks equals the root over explicit blocks, for any chunking', () => {
    for (const size of [0, 1, 100, MERKLE_BLOCK_SIZE - 1, MERKLE_BLOCK_SIZE, MERKLE_BLOCK_SIZE + 1, 5 * MERKLE_BLOCK_SIZE, 200_003]) {
      const data = randomBytes(size)
      const expected = referenceMth(blocksOf(data, MERKLE_BLOCK_SIZE)).toString('hex')
      expect(merkleRoot(blocksOf(data, MERKLE_BLOCK_SIZE)).toString('hex')).toBe(expected)
      for (let trial = 0; trial < 10; trial++) {
        const hasher = new MerkleHasher()
        const max = trial === 0 ? 1 : 1 + Math.floor(Math.random() * 3 * MERKLE_BLOCK_SIZE)
        for (let off = 0; off < data.length;) {
          const n = trial === 0 ? Math.min(size, 37) || 1 : 1 + Math.floor(Math.random() * max)
          hasher.update(data.subarray(off, off + n))
          off += n
        }
        expect(hasher.length).toBe(size)
        expect(hasher.digest(), `size=${size} trial=${trial}`).toBe(expected)
      }
    }
  })

  it('a different block size gives a different tree', () => {
    const data = randomBytes(3 * 1024)
    const small = new MerkleHasher(1024).update(data).digest()
    expect(small).toBe(referenceMth(blocksOf(data, 1024)).toString('hex'))
    expect(small).not.toBe(new MerkleHasher().update(data).digest())
    expect(() => new MerkleHasher(0)).toThrow(RangeError)
  })
})

describe('MerkleHasher.root', () => {
  it('does not change the hasher: feeding more bytes after root() gives the root of all of them', () => {
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 256))
    const h = new MerkleHasher(1024)
    h.update(bytes.subarray(0, 2500))
    const early = h.root()
    expect(h.root().equals(early)).toBe(true)
    h.update(bytes.subarray(2500))
    const blocks = [0, 1024, 2048, 3072, 4096].map((o) => bytes.subarray(o, o + 1024))
    expect(h.root().equals(merkleRoot(blocks))).toBe(true)
    expect(early.equals(merkleRoot([0, 1024, 2048].map((o) => bytes.subarray(o, Math.min(o + 1024, 2500)))))).toBe(true)
  })
})
