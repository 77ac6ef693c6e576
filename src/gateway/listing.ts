/**
 * One page of a bucket listing with delimiter roll-up (S3 semantics, shared by the S3 endpoint and the
 * coordinator's API): keys under a common prefix count once, as that prefix, and a page continues
 * after a marker that is (or lies inside) an already reported common prefix.
 */
import type { MetadataStore, ObjectRecord } from '../metadata/metadata-store.js'

/** Rows fetched from the metadata store per query, at most. */
const MAX_KEYS = 1000
/**
 * Rows asked for right after a common prefix was rolled up: the next key is often the first of another
 * prefix, and only that one row is needed to skip it. Plain keys grow the query size again (×4 up to
 * MAX_KEYS). Listing 100 folders of 1000 keys each then reads a few hundred rows, not 100 000.
 */
const AFTER_PREFIX_KEYS = 8

export interface ListPage { objects: ObjectRecord[], prefixes: string[], truncated: boolean, last: string }

/** One listing page with delimiter roll-up: keys under a common prefix count once, as that prefix. */
export async function listPage (metadata: MetadataStore, bucket: string, prefix: string, delimiter: string, startAfter: string, maxKeys: number): Promise<ListPage> {
  const objects: ObjectRecord[] = []
  const prefixes: string[] = []
  let after = startAfter
  let last = ''
  if (maxKeys === 0) return { objects, prefixes, truncated: false, last }
  // A marker that is a common prefix (the NextMarker of a previous page) or lies inside one continues
  // after that whole prefix, so no prefix is reported twice.
  if (delimiter !== '' && after.startsWith(prefix)) {
    const cut = after.indexOf(delimiter, prefix.length)
    if (cut >= 0) after = after.slice(0, cut + delimiter.length) + '\u{10FFFF}'
  }
  // No page needs more rows than it has entries (+1 to tell whether it is truncated), unless it skips folders.
  let limit = Math.min(MAX_KEYS, maxKeys + 1)
  for (;;) {
    const rows = await metadata.listObjects(bucket, { prefix, startAfter: after === '' ? undefined : after, limit })
    let skipped = false
    for (const o of rows) {
      const rest = o.key.slice(prefix.length)
      const cut = delimiter === '' ? -1 : rest.indexOf(delimiter)
      if (objects.length + prefixes.length >= maxKeys) return { objects, prefixes, truncated: true, last }
      if (cut >= 0) {
        const entry = prefix + rest.slice(0, cut + delimiter.length)
        prefixes.push(entry)
        last = entry
        after = entry + '\u{10FFFF}' // the next key after everything under this common prefix
        skipped = true
        break
      }
      objects.push(o)
      last = o.key
      after = o.key
    }
    if (!skipped && rows.length < limit) return { objects, prefixes, truncated: false, last }
    limit = skipped ? AFTER_PREFIX_KEYS : Math.min(MAX_KEYS, limit * 4)
  }
}
