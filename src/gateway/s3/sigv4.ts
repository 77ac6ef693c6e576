/**
 * AWS Signature Version 4 verification for the S3 gateway: the `Authorization` header form and the
 * presigned (query-string) form, with the canonical request built by S3's rules (the path is neither
 * normalised nor double-encoded). It authenticates the request head only; a body is checked later
 * against what this returns: the `sha256` payload hash, or the chunk signatures that
 * `decodeAwsChunked` verifies with the returned signing key.
 *
 * References (Amazon S3 API reference): "Authenticating Requests (AWS Signature Version 4)",
 * "Signature Calculations for the Authorization Header", "Authenticating Requests: Using Query
 * Parameters", "Signature Calculations for the Authorization Header: Transferring Payload in Multiple
 * Chunks", "Signature calculations for trailing headers".
 */

import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { S3Error } from './errors.js'

/** The request head as received, before any decoding. */
export interface IncomingSigned {
  readonly method: string
  /** Exactly as received, still percent-encoded, without the query. */
  readonly rawPath: string
  /** Everything after '?', as received; '' when there is none. */
  readonly rawQuery: string
  /**
   * Lowercase header names (node's `IncomingHttpHeaders`). Pass `req.headersDistinct` to keep repeated
   * headers apart: node joins repeats of unknown headers with ", ", which SigV4 joins with ",".
   */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>
}

/** Finds the secret of an access key; `undefined` when the key is unknown. */
export type SecretLookup = (accessKeyId: string) => Promise<string | undefined>

/** How the body is protected, from `x-amz-content-sha256` (or its presigned default). */
export type PayloadMode = 'sha256' | 'unsigned' | 'streaming-signed' | 'streaming-unsigned-trailer' | 'streaming-signed-trailer'

/** What a verified request says about its sender and its body. */
export interface AuthResult {
  readonly accessKeyId: string
  readonly region: string
  readonly service: string
  /** The credential scope's date, YYYYMMDD. */
  readonly date: string
  /** The request time as signed, YYYYMMDD'T'HHMMSS'Z'. */
  readonly amzDate: string
  readonly presigned: boolean
  readonly payload: PayloadMode
  /** Lowercase hex SHA-256 the body must have, when `payload` is 'sha256'; the server must check it. */
  readonly payloadHash?: string
  /** The request's own (verified) signature: the seed of a chunk-signature chain. */
  readonly seedSignature: string
  /** HMAC key for chunk and trailer signatures. */
  readonly signingKey: Buffer
  /** date/region/service/aws4_request */
  readonly scope: string
}

/** Settings of `authenticate`; every one has a default. */
export interface AuthenticateOptions {
  /** The server's clock; default `new Date()`. */
  readonly now?: Date
  /** Largest allowed difference between the request time and `now`; default `MAX_CLOCK_SKEW_MS`. */
  readonly maxSkewMs?: number
  /** The service named in the credential scope; default 's3'. */
  readonly service?: string
  /** When given, the credential scope's region must be this one; by default any region is accepted. */
  readonly region?: string
}

/** S3 refuses requests more than 15 minutes off its clock (S3 API reference, RequestTimeTooSkewed). */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000
/** Longest presigned URL validity: seven days ("Authenticating Requests: Using Query Parameters"). */
export const MAX_PRESIGNED_EXPIRES_S = 604_800

/** The only algorithm accepted (SigV4a's AWS4-ECDSA-P256-SHA256 is not supported). */
export const ALGORITHM = 'AWS4-HMAC-SHA256'
/** SHA-256 of the empty string: the payload hash of an empty body and of every chunk's "previous" line. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
/** x-amz-content-sha256 value for a body the signature does not cover; presigned URLs' default. */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD'

/** x-amz-content-sha256 values other than a hex digest, and what each means. */
const PAYLOAD_CONSTANTS: Readonly<Record<string, PayloadMode>> = {
  [UNSIGNED_PAYLOAD]: 'unsigned',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': 'streaming-signed',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER': 'streaming-unsigned-trailer',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': 'streaming-signed-trailer'
}

/** Headers whose value the signature covers even when they are not listed in SignedHeaders. */
const COVERED_WITHOUT_LISTING = new Set(['x-amz-content-sha256', 'x-amz-date'])

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/
const HEX_SHA256 = /^[0-9a-fA-F]{64}$/
const SIGNATURE = /^[0-9a-f]{64}$/
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

/** SHA-256 of `data`, lowercase hex. */
export function sha256Hex (data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

function hmac (key: string | Uint8Array, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest()
}

/**
 * The SigV4 signing key: HMAC chain over date, region, service and "aws4_request", keyed by
 * "AWS4" + secret. Never fails.
 */
export function deriveSigningKey (secret: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac('AWS4' + secret, date)
  const kRegion = hmac(kDate, region)
  const kService = hmac(kRegion, service)
  return hmac(kService, 'aws4_request')
}

/** Hex HMAC-SHA256 of a string to sign under a signing key. Never fails. */
export function signString (signingKey: Uint8Array, stringToSign: string): string {
  return createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex')
}

/** True when two hex signatures are equal, compared in constant time; false for any malformed one. */
export function signaturesEqual (expected: string, provided: string): boolean {
  if (!SIGNATURE.test(expected) || !SIGNATURE.test(provided)) return false
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(provided, 'hex'))
}

const UNRESERVED = new Uint8Array(256)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1
const HEX_UPPER = '0123456789ABCDEF'

function hexValue (code: number): number {
  if (code >= 48 && code <= 57) return code - 48
  if (code >= 65 && code <= 70) return code - 55
  if (code >= 97 && code <= 102) return code - 87
  return -1
}

/**
 * Percent-decodes to bytes; a '%' not followed by two hex digits stays a literal '%'. With `plusIsSpace`
 * (query strings, as form-encoded), '+' is a space. Never fails.
 */
function percentDecode (text: string, plusIsSpace: boolean): Buffer {
  const raw = Buffer.from(text, 'utf8')
  const out = Buffer.allocUnsafe(raw.length)
  let n = 0
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!
    if (b === 0x25 && i + 2 < raw.length) {
      const hi = hexValue(raw[i + 1]!)
      const lo = hexValue(raw[i + 2]!)
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo
        i += 2
        continue
      }
    }
    out[n++] = plusIsSpace && b === 0x2b ? 0x20 : b
  }
  return out.subarray(0, n)
}

/** S3's URI encoding: unreserved bytes kept, every other byte %XX with uppercase hex. */
export function uriEncode (bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) {
    out += UNRESERVED[b] === 1 ? String.fromCharCode(b) : '%' + HEX_UPPER[b >> 4]! + HEX_UPPER[b & 15]!
  }
  return out
}

/**
 * The canonical URI for S3: each '/'-separated segment of the raw path decoded, then encoded once with
 * the S3 rule. Not normalised ('//' and '.' segments stay), so differently-encoded but equal paths match.
 */
export function canonicalUri (rawPath: string): string {
  const path = rawPath === '' ? '/' : rawPath
  return path.split('/').map((segment) => uriEncode(percentDecode(segment, false))).join('/')
}

/** Splits a raw query into decoded (name, value) pairs, in order; empty pieces are skipped. */
function parseQuery (rawQuery: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = []
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue
    const eq = piece.indexOf('=')
    const name = eq < 0 ? piece : piece.slice(0, eq)
    const value = eq < 0 ? '' : piece.slice(eq + 1)
    pairs.push([percentDecode(name, true).toString('utf8'), percentDecode(value, true).toString('utf8')])
  }
  return pairs
}

/**
 * The canonical query string: every parameter decoded and re-encoded with the S3 rule, sorted by
 * encoded name then encoded value, joined with '&'; parameters named in `exclude` are left out.
 */
export function canonicalQuery (rawQuery: string, exclude: ReadonlySet<string> = new Set()): string {
  const encoded: Array<[string, string]> = []
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue
    const eq = piece.indexOf('=')
    const name = percentDecode(eq < 0 ? piece : piece.slice(0, eq), true)
    if (exclude.has(name.toString('utf8'))) continue
    encoded.push([uriEncode(name), uriEncode(percentDecode(eq < 0 ? '' : piece.slice(eq + 1), true))])
  }
  encoded.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)
  return encoded.map(([n, v]) => `${n}=${v}`).join('&')
}

function headerValues (headers: IncomingSigned['headers'], name: string): readonly string[] | undefined {
  const value = headers[name] ?? (name === 'host' ? headers[':authority'] : undefined)
  if (value === undefined) return undefined
  return typeof value === 'string' ? [value] : value
}

function firstHeader (headers: IncomingSigned['headers'], name: string): string | undefined {
  return headerValues(headers, name)?.[0]
}

/** One header's canonical value: each value trimmed, inner whitespace runs made one space, joined by ','. */
function canonicalHeaderValue (values: readonly string[]): string {
  return values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',')
}

/**
 * The canonical request of SigV4 for S3: method, canonical URI, canonical query, the signed headers with
 * their canonical values (a signed header that is absent counts as empty), the SignedHeaders list, and
 * the payload hash line. Never fails.
 */
export function canonicalRequest (req: IncomingSigned, signedHeaders: readonly string[], payloadHash: string, excludeQuery: ReadonlySet<string> = new Set()): string {
  const headerLines = signedHeaders.map((name) => `${name}:${canonicalHeaderValue(headerValues(req.headers, name) ?? [])}\n`).join('')
  return [
    req.method.toUpperCase(),
    canonicalUri(req.rawPath),
    canonicalQuery(req.rawQuery, excludeQuery),
    headerLines,
    signedHeaders.join(';'),
    payloadHash
  ].join('\n')
}

/** The request's string to sign: algorithm, timestamp, scope and the canonical request's hash. */
export function stringToSign (amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`
}

/** Parses YYYYMMDD'T'HHMMSS'Z' into epoch milliseconds; undefined when malformed or not a real date. */
function parseAmzDate (value: string): number | undefined {
  const m = AMZ_DATE.exec(value)
  if (m === null) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  const ms = Date.UTC(y, mo - 1, d, h, mi, s)
  const back = new Date(ms)
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined
  return ms
}

function formatAmzDate (ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
}

/** What both forms carry once parsed, before checking. */
interface Parsed {
  readonly presigned: boolean
  readonly accessKeyId: string
  readonly date: string
  readonly region: string
  readonly service: string
  readonly signedHeaders: readonly string[]
  readonly signature: string
  readonly amzDate: string
  readonly requestMs: number
  readonly expiresS?: number
  readonly payloadHeader: string
  readonly excludeQuery: ReadonlySet<string>
}

type Fail = (message: string, details?: Record<string, string>) => S3Error

function parseCredential (value: string, fail: Fail): { accessKeyId: string, date: string, region: string, service: string } {
  const parts = value.split('/')
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    throw fail(`the Credential '${value}' is not of the form <access-key-id>/<YYYYMMDD>/<region>/<service>/aws4_request`)
  }
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string]
  if (!/^\d{8}$/.test(date)) throw fail(`the Credential date '${date}' is not YYYYMMDD`)
  if (terminator !== 'aws4_request') throw fail(`the Credential ends in '${terminator}', expected 'aws4_request'`)
  return { accessKeyId, date, region, service }
}

function parseSignedHeaders (value: string, fail: Fail): string[] {
  const names = value.split(';')
  for (const name of names) {
    if (!HEADER_NAME.test(name)) throw fail(`SignedHeaders '${value}' must be lowercase header names separated by ';'`)
  }
  if (new Set(names).size !== names.length) throw fail(`SignedHeaders '${value}' names a header twice`)
  if (!names.includes('host')) throw fail("SignedHeaders must include 'host'")
  return names
}

function parseHeaderForm (req: IncomingSigned, authorization: string): Parsed {
  const fail: Fail = (message, details) => new S3Error('AuthorizationHeaderMalformed',
    `The authorization header is malformed; ${message}.`, { details })
  const space = authorization.indexOf(' ')
  const algorithm = space < 0 ? authorization : authorization.slice(0, space)
  if (algorithm !== ALGORITHM) {
    throw new S3Error('InvalidArgument', `Unsupported Authorization Type '${algorithm}'; only ${ALGORITHM} is supported.`,
      { details: { ArgumentName: 'Authorization', ArgumentValue: algorithm } })
  }
  const fields = new Map<string, string>()
  for (const component of authorization.slice(space + 1).split(',')) {
    const item = component.trim()
    if (item === '') continue
    const eq = item.indexOf('=')
    if (eq <= 0) throw fail(`'${item}' is not a key=value component`)
    const key = item.slice(0, eq)
    if (fields.has(key)) throw fail(`the component ${key} appears twice`)
    fields.set(key, item.slice(eq + 1))
  }
  const credential = fields.get('Credential')
  const signedHeaders = fields.get('SignedHeaders')
  const signature = fields.get('Signature')
  if (credential === undefined) throw fail('the Credential component is missing')
  if (signedHeaders === undefined) throw fail('the SignedHeaders component is missing')
  if (signature === undefined) throw fail('the Signature component is missing')
  const scope = parseCredential(credential, fail)

  const xAmzDate = firstHeader(req.headers, 'x-amz-date')
  const httpDate = firstHeader(req.headers, 'date')
  let requestMs: number | undefined
  let amzDate: string
  if (xAmzDate !== undefined) {
    requestMs = parseAmzDate(xAmzDate)
    amzDate = xAmzDate
  } else {
    const parsed = httpDate === undefined ? NaN : Date.parse(httpDate)
    requestMs = Number.isNaN(parsed) ? undefined : parsed
    amzDate = requestMs === undefined ? '' : formatAmzDate(requestMs)
  }
  if (requestMs === undefined) {
    throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header')
  }
  // The Credential date is compared with the request time in `authenticate`, after the clock-skew check:
  // a request time far off (e.g. x-amz-date changed after signing) is RequestTimeTooSkewed, as on S3.
  const payloadHeader = firstHeader(req.headers, 'x-amz-content-sha256')
  if (payloadHeader === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256')
  }
  return {
    presigned: false,
    ...scope,
    signedHeaders: parseSignedHeaders(signedHeaders, fail),
    signature,
    amzDate,
    requestMs,
    payloadHeader,
    excludeQuery: new Set()
  }
}

const PRESIGNED_REQUIRED = ['X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'] as const

function parseQueryForm (req: IncomingSigned, query: ReadonlyMap<string, string>): Parsed {
  const fail: Fail = (message, details) => new S3Error('AuthorizationQueryParametersError', message, { details })
  const algorithm = query.get('X-Amz-Algorithm')
  if (algorithm !== ALGORITHM) {
    throw fail(`X-Amz-Algorithm only supports "${ALGORITHM}"`)
  }
  for (const name of PRESIGNED_REQUIRED) {
    if (!query.has(name)) {
      throw fail(`Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters; ${name} is missing.`)
    }
  }
  const scope = parseCredential(query.get('X-Amz-Credential')!, (message) => fail(`Error parsing the X-Amz-Credential parameter; ${message}.`))
  const amzDate = query.get('X-Amz-Date')!
  const requestMs = parseAmzDate(amzDate)
  if (requestMs === undefined) throw fail('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"')
  if (amzDate.slice(0, 8) !== scope.date) {
    throw fail(`Invalid credential date "${scope.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`)
  }
  const expires = query.get('X-Amz-Expires')!
  if (!/^\d{1,10}$/.test(expires)) throw fail('X-Amz-Expires should be a non-negative whole number of seconds')
  const expiresS = Number(expires)
  if (expiresS > MAX_PRESIGNED_EXPIRES_S) {
    throw fail(`X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGNED_EXPIRES_S}`)
  }
  // S3 presigned URLs default to an unsigned payload; a signer may still pin one (query first, as MinIO).
  const payloadHeader = query.get('X-Amz-Content-Sha256') ?? firstHeader(req.headers, 'x-amz-content-sha256') ?? UNSIGNED_PAYLOAD
  return {
    presigned: true,
    ...scope,
    signedHeaders: parseSignedHeaders(query.get('X-Amz-SignedHeaders')!, (message) => fail(`Error parsing X-Amz-SignedHeaders: ${message}.`)),
    signature: query.get('X-Amz-Signature')!,
    amzDate,
    requestMs,
    expiresS,
    payloadHeader,
    excludeQuery: new Set(['X-Amz-Signature'])
  }
}

function payloadModeOf (value: string, presigned: boolean): PayloadMode {
  const mode = HEX_SHA256.test(value) ? 'sha256' : PAYLOAD_CONSTANTS[value]
  // A presigned URL has no seed signature in a header a client could chain chunks from.
  if (mode === undefined || (presigned && (mode === 'streaming-signed' || mode === 'streaming-signed-trailer'))) {
    throw new S3Error('InvalidArgument',
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, ' +
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (not presigned), or a valid sha256 value.',
      { details: { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value } })
  }
  return mode
}

/** The Authorization header; an empty one counts as none (S3 answers it like an anonymous request). */
function authorizationHeader (req: IncomingSigned): string | undefined {
  const value = firstHeader(req.headers, 'authorization')
  return value === undefined || value.trim() === '' ? undefined : value
}

function isPresigned (query: { has: (name: string) => boolean }): boolean {
  return query.has('X-Amz-Algorithm') || query.has('X-Amz-Credential') || query.has('X-Amz-Signature')
}

/**
 * True when a request carries no authentication at all (no Authorization header, or an empty one, and
 * no X-Amz-* query authentication); `authenticate` refuses such a request with AccessDenied. Never fails.
 */
export function isAnonymous (req: IncomingSigned): boolean {
  return authorizationHeader(req) === undefined && !isPresigned(new Set(parseQuery(req.rawQuery).map(([name]) => name)))
}

/**
 * Verifies a SigV4-signed request head (Authorization header or presigned query) and returns who sent
 * it and how its body is protected. Fails with an S3Error: AccessDenied (no authentication, expired or
 * not-yet-valid presigned URL, x-amz-* headers that are not signed), AuthorizationHeaderMalformed /
 * AuthorizationQueryParametersError (garbled or inconsistent auth fields, wrong service or region),
 * InvalidArgument (unsupported algorithm, both forms at once, bad x-amz-content-sha256), InvalidRequest
 * (x-amz-content-sha256 missing), RequestTimeTooSkewed, InvalidAccessKeyId, SignatureDoesNotMatch
 * (details carry CanonicalRequest and StringToSign, never the secret). Errors of `lookup` pass through.
 */
export async function authenticate (req: IncomingSigned, lookup: SecretLookup, options: AuthenticateOptions = {}): Promise<AuthResult> {
  const nowMs = (options.now ?? new Date()).getTime()
  const maxSkewMs = options.maxSkewMs ?? MAX_CLOCK_SKEW_MS
  const expectedService = options.service ?? 's3'

  const authorization = authorizationHeader(req)
  const query = new Map<string, string>()
  for (const [name, value] of parseQuery(req.rawQuery)) if (!query.has(name)) query.set(name, value)
  const presigned = isPresigned(query)
  if (authorization !== undefined && presigned) {
    throw new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, ' +
      'Signature query string parameter or the Authorization header should be specified',
    { details: { ArgumentName: 'Authorization', ArgumentValue: authorization } })
  }
  if (authorization === undefined && !presigned) {
    throw new S3Error('AccessDenied', 'Access Denied: the request carries neither an Authorization header nor X-Amz-* query authentication')
  }
  const parsed = presigned ? parseQueryForm(req, query) : parseHeaderForm(req, authorization!)
  const malformed = (message: string): S3Error => presigned
    ? new S3Error('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; ${message}.`)
    : new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${message}.`)
  if (parsed.service !== expectedService) {
    throw malformed(`incorrect service '${parsed.service}'. This endpoint belongs to '${expectedService}'`)
  }
  if (options.region !== undefined && parsed.region !== options.region) {
    // S3 names the region to sign for in a Region element; clients such as s3cmd retry with it.
    const e = malformed(`the region '${parsed.region}' is wrong; expecting '${options.region}'`)
    throw new S3Error(e.code, e.message, { details: { Region: options.region } })
  }

  const serverTime = formatAmzDate(nowMs)
  if (parsed.presigned) {
    if (parsed.requestMs - nowMs > maxSkewMs) {
      throw new S3Error('AccessDenied', 'Request is not valid yet', { details: { 'X-Amz-Date': parsed.amzDate, ServerTime: serverTime } })
    }
    if (nowMs > parsed.requestMs + parsed.expiresS! * 1000) {
      throw new S3Error('AccessDenied', 'Request has expired', {
        details: { 'X-Amz-Expires': String(parsed.expiresS), Expires: formatAmzDate(parsed.requestMs + parsed.expiresS! * 1000), ServerTime: serverTime }
      })
    }
  } else if (Math.abs(parsed.requestMs - nowMs) > maxSkewMs) {
    throw new S3Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large; ' +
      'set the clock of the client (the request time is x-amz-date, or Date without it).', {
      details: { RequestTime: parsed.amzDate, ServerTime: serverTime, MaxAllowedSkewMilliseconds: String(maxSkewMs) }
    })
  } else if (parsed.amzDate.slice(0, 8) !== parsed.date) {
    throw malformed(`the Credential date '${parsed.date}' is not the date of the request time '${parsed.amzDate}'`)
  }

  const payload = payloadModeOf(parsed.payloadHeader, parsed.presigned)

  // An unsigned x-amz-* header could change what the request does (ACL, copy source, ...): S3 refuses it.
  const signed = new Set(parsed.signedHeaders)
  const notSigned = Object.keys(req.headers).filter((name) => name.startsWith('x-amz-') &&
    !signed.has(name) && !COVERED_WITHOUT_LISTING.has(name) && req.headers[name] !== undefined)
  if (notSigned.length > 0) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed',
      { details: { HeadersNotSigned: notSigned.sort().join(', ') } })
  }

  const secret = await lookup(parsed.accessKeyId)
  if (secret === undefined) {
    throw new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.',
      { details: { AWSAccessKeyId: parsed.accessKeyId } })
  }

  const scope = `${parsed.date}/${parsed.region}/${parsed.service}/aws4_request`
  const canonical = canonicalRequest(req, parsed.signedHeaders, parsed.payloadHeader, parsed.excludeQuery)
  const toSign = stringToSign(parsed.amzDate, scope, canonical)
  const signingKey = deriveSigningKey(secret, parsed.date, parsed.region, parsed.service)
  const expected = signString(signingKey, toSign)
  if (!signaturesEqual(expected, parsed.signature)) {
    throw new S3Error('SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
        details: { AWSAccessKeyId: parsed.accessKeyId, StringToSign: toSign, SignatureProvided: parsed.signature, CanonicalRequest: canonical }
      })
  }

  return {
    accessKeyId: parsed.accessKeyId,
    region: parsed.region,
    service: parsed.service,
    date: parsed.date,
    amzDate: parsed.amzDate,
    presigned: parsed.presigned,
    payload,
    ...(payload === 'sha256' ? { payloadHash: parsed.payloadHeader.toLowerCase() } : {}),
    seedSignature: parsed.signature,
    signingKey,
    scope
  }
}
