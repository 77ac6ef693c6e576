/**
 * The autonomous system (ASN) of a node, derived from its provider label.
 *
 * Nodes do not report an ASN, and nothing here checks one: the answer is derived from the node's
 * SELF-DECLARED provider label, so it is only as true as that label. (DESIGN.md plans to check labels
 * against the node's observed IP and published cloud ranges; until then a node can claim any provider.)
 * Counting by ASN still catches what the provider label hides: two differently named home ISPs on one
 * AS, or a "bare-metal" operator that is in fact another cloud's customer, once labels are honest.
 */

/**
 * Primary ASN of each well-known cloud, by every provider label it commonly goes by. Only networks whose
 * main ASN is not in doubt are listed; a provider announcing several (Google, Microsoft) is counted under
 * the one its cloud customers' addresses are announced from.
 */
export const PROVIDER_ASNS: Readonly<Record<string, string>> = Object.freeze({
  aws: 'AS16509',
  amazon: 'AS16509',
  gcp: 'AS15169',
  google: 'AS15169',
  azure: 'AS8075',
  microsoft: 'AS8075',
  hetzner: 'AS24940',
  ovh: 'AS16276',
  ovhcloud: 'AS16276',
  digitalocean: 'AS14061',
  linode: 'AS63949',
  akamai: 'AS63949',
  oracle: 'AS31898',
  scaleway: 'AS12876',
  vultr: 'AS20473',
  equinix: 'AS54825'
})

/** What asnOf answers when the label says nothing it can map. */
export const UNKNOWN_ASN = 'unknown'

/** Largest 32-bit AS number (RFC 6793). */
const MAX_ASN = 4294967295

/**
 * "AS<number>" for a provider label that names an AS — `as3320` (DESIGN.md's form for a home ISP) or
 * `<name>:as3320` such as "home:as3320" — or is a well-known cloud (PROVIDER_ASNS: "aws" → "AS16509");
 * "unknown" for anything else, including AS 0 (reserved, RFC 7607) and numbers beyond 32 bits. Case and
 * surrounding spaces are ignored; leading zeros are dropped ("as03320" → "AS3320"). Never throws.
 */
export function asnOf (labels: { readonly provider: string }): string {
  const provider = String(labels.provider).trim().toLowerCase()
  const match = /^(?:[^:]+:)?as([0-9]{1,10})$/.exec(provider)
  if (match !== null) {
    const n = Number(match[1])
    return n >= 1 && n <= MAX_ASN ? `AS${n}` : UNKNOWN_ASN
  }
  return Object.hasOwn(PROVIDER_ASNS, provider) ? PROVIDER_ASNS[provider] ?? UNKNOWN_ASN : UNKNOWN_ASN
}
