/**
 * S3 POST Object: browser-based uploads from an HTML form (multipart/form-data). The credentials are
 * in the form, not in an Authorization header: a base64 JSON policy (expiration + conditions) signed
 * with SigV4 (x-amz-algorithm/-credential/-date/-signature; what boto3's generate_presigned_post and
 * the AWS SDKs' createPresignedPost make) or SigV2 (AWSAccessKeyId + signature, HMAC-SHA1 of the
 * policy). The form's fields come before the file; the file is streamed into the object, and its
 * content-length-range is enforced while it streams, so an oversized file stores nothing.
 *
 * Policy rules (S3 API reference, "Creating a POST policy"): every form field except the signature,
 * the policy, the file and x-ignore-* fields must be allowed by a condition; conditions are
 * {"field": "value"} / ["eq", "$field", "value"] (exact), ["starts-with", "$field", "prefix"], and
 * ["content-length-range", min, max]. Field names compare case-insensitively, values exactly.
 */
import Busboy from 'busboy'
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import type { BucketRecord } from '../../metadata/metadata-store.js'
import type { Gateway } from '../gateway.js'
import { S3Error } from './errors.js'
import { ALGORITHM, deriveSigningKey, signaturesEqual } from './sigv4.js'
import { el, xmlDocument } from './xml.js'

/** Largest form field S3 takes (the policy is the big one): 20 KiB. */
const MAX_FIELD_BYTES = 20 * 1024
/** Form fields before the file; S3 documents no number, a form has a few dozen at most. */
const MAX_FIELDS = 200
/** Fields that need no policy condition: the signature itself, the policy, the file. */
const UNCONDITIONED = new Set(['policy', 'x-amz-signature', 'signature', 'awsaccesskeyid', 'file'])
/** Headers a form may set on the object (as S3 keeps them on PutObject), besides x-amz-meta-*. */
const OBJECT_FIELDS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const

export interface PostObjectComponents {
  readonly gateway: Gateway
  /** The secret and account of an access key (undefined when unknown). */
  readonly accessKey: (id: string) => Promise<{ secretAccessKey: string, accountId: string } | undefined>
  /** The endpoint's region (a SigV4 credential naming another is refused). */
  readonly region: string
  /** x-amz-acl / x-amz-grant-* check of PutObject, applied to the form's acl field. */
  readonly checkAcl: (acl: string | undefined, owner: string) => void
  readonly maxObjectBytes: number
}

/** What a POST of a form to a bucket does; resolves once the response is sent. */
export async function postObject (c: PostObjectComponents, req: IncomingMessage, res: ServerResponse, bucket: BucketRecord, url: URL): Promise<void> {
  const { fields, file } = await readForm(req)
  try {
    const policy = await verify(c, fields, bucket)
    const key = fields.get('key')
    if (key === undefined || key === '') throw new S3Error('InvalidArgument', 'Bucket POST must contain a field named \'key\'. If it is specified, please check the order of the fields.', { details: { ArgumentName: 'key' } })
    const objectKey = key.replaceAll('${filename}', file.filename)
    const meta: Record<string, string> = {}
    for (const [name, value] of fields) {
      if (name.startsWith('x-amz-meta-') || (OBJECT_FIELDS as readonly string[]).includes(name)) meta[name] = value
    }
    const result = await c.gateway.putObject({
      bucket,
      key: objectKey,
      body: limited(file.stream, policy.minBytes, Math.min(policy.maxBytes, c.maxObjectBytes)),
      contentType: fields.get('content-type') ?? 'binary/octet-stream',
      userMetadata: meta
    })
    const etag = `"${result.object.etag}"`
    const location = new URL(`/${bucket.name}/${encodeURIComponent(objectKey)}`, url).toString()
    const redirect = fields.get('success_action_redirect') ?? fields.get('redirect')
    if (redirect !== undefined && /^https?:\/\//i.test(redirect)) {
      const to = new URL(redirect)
      to.searchParams.set('bucket', bucket.name)
      to.searchParams.set('key', objectKey)
      to.searchParams.set('etag', etag)
      res.writeHead(303, { location: to.toString(), etag, 'content-length': 0 }).end()
      return
    }
    const status = fields.get('success_action_status')
    if (status === '201') {
      // S3's PostResponse has no namespace (an element with attributes given gets none from xmlDocument).
      const body = xmlDocument(el('PostResponse', [el('Location', location), el('Bucket', bucket.name), el('Key', objectKey), el('ETag', etag)], {}))
      res.writeHead(201, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), etag, location }).end(body)
    } else {
      res.writeHead(status === '200' ? 200 : 204, { etag, location, 'content-length': 0 }).end()
    }
  } catch (err) {
    file.stream.resume() // the file's unread rest is dropped; the server's error reply drains the request
    throw err
  }
}

interface Form {
  /** Fields before the file, names lower-cased. */
  readonly fields: Map<string, string>
  readonly file: { readonly stream: Readable, readonly filename: string }
}

/** Reads the form's fields up to its file; rejects with an S3Error for a form that is not one. */
async function readForm (req: IncomingMessage): Promise<Form> {
  let parser: Busboy.Busboy
  try {
    parser = Busboy({ headers: req.headers, limits: { fieldSize: MAX_FIELD_BYTES, fields: MAX_FIELDS, files: 1, parts: MAX_FIELDS + 1 } })
  } catch (err) {
    throw new S3Error('MalformedPOSTRequest', `The body of your POST request is not well-formed multipart/form-data: ${(err as Error).message}`)
  }
  return await new Promise<Form>((resolve, reject) => {
    const fields = new Map<string, string>()
    let done = false
    const fail = (err: S3Error): void => {
      if (done) return
      done = true
      req.unpipe(parser)
      req.resume()
      reject(err)
    }
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(new S3Error('MaxPostPreDataLengthExceeded', `Form field ${name} is longer than ${MAX_FIELD_BYTES} bytes`))
      const lower = name.toLowerCase()
      // The first of a repeated field counts, as in S3's parser; the file comes last anyway.
      if (!fields.has(lower)) fields.set(lower, value)
    })
    parser.on('file', (name, stream, info) => {
      if (done) { stream.resume(); return }
      if (name.toLowerCase() !== 'file') {
        fail(new S3Error('InvalidArgument', `POST requires the upload in a field named "file", not "${name}"`, { details: { ArgumentName: 'file' } }))
        stream.resume()
        return
      }
      done = true
      // Fields after the file are not part of the form S3 reads; the policy sees these.
      resolve({ fields: new Map(fields), file: { stream, filename: info.filename ?? '' } })
    })
    parser.on('fieldsLimit', () => { fail(new S3Error('MalformedPOSTRequest', `The form has more than ${MAX_FIELDS} fields`)) })
    parser.on('error', (err: Error) => { fail(new S3Error('MalformedPOSTRequest', `The body of your POST request is not well-formed multipart/form-data: ${err.message}`)) })
    parser.on('close', () => { fail(new S3Error('InvalidArgument', 'POST requires exactly one file upload per request, in a field named "file" after the other fields', { details: { ArgumentName: 'file' } })) })
    req.pipe(parser)
  })
}

interface Policy {
  readonly minBytes: number
  readonly maxBytes: number
}

/** Checks the form's signature and policy; returns the size limits. Throws the S3 errors S3 gives. */
async function verify (c: PostObjectComponents, fields: Map<string, string>, bucket: BucketRecord): Promise<Policy> {
  const policyText = fields.get('policy')
  const v4 = fields.has('x-amz-signature') || fields.has('x-amz-credential')
  const accessKeyId = v4 ? fields.get('x-amz-credential')?.split('/')[0] : fields.get('awsaccesskeyid')
  if (policyText === undefined || accessKeyId === undefined) {
    // An anonymous form: only a bucket writable by everyone would take it, and Shoal has no public buckets.
    throw new S3Error('AccessDenied', 'Access Denied: an anonymous POST needs a public-write bucket; sign the form (policy + x-amz-signature or AWSAccessKeyId + signature)')
  }
  const key = await c.accessKey(accessKeyId)
  if (key === undefined) throw new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { details: { AWSAccessKeyId: accessKeyId } })
  if (v4) verifyV4(fields, policyText, key.secretAccessKey, c.region)
  else verifyV2(fields, policyText, key.secretAccessKey)
  if (bucket.ownerId !== key.accountId) throw new S3Error('AccessDenied', 'Access Denied: the bucket belongs to another account', { details: { BucketName: bucket.name } })
  c.checkAcl(fields.get('acl'), key.accountId)
  return checkPolicy(parsePolicy(policyText), fields, bucket.name)
}

function verifyV4 (fields: Map<string, string>, policy: string, secret: string, region: string): void {
  const algorithm = fields.get('x-amz-algorithm')
  if (algorithm !== ALGORITHM) throw new S3Error('InvalidArgument', `x-amz-algorithm must be ${ALGORITHM}`, { details: { ArgumentName: 'x-amz-algorithm', ArgumentValue: algorithm ?? '' } })
  const scope = (fields.get('x-amz-credential') ?? '').split('/')
  if (scope.length !== 5 || !/^\d{8}$/.test(scope[1]) || scope[3] !== 's3' || scope[4] !== 'aws4_request') {
    throw new S3Error('AuthorizationQueryParametersError', 'x-amz-credential must be ACCESSKEY/YYYYMMDD/REGION/s3/aws4_request')
  }
  if (scope[2] !== region) throw new S3Error('AuthorizationQueryParametersError', `The form was signed for region ${scope[2]}; this endpoint is ${region}`, { details: { Region: region } })
  const signature = fields.get('x-amz-signature') ?? ''
  const expected = createHmac('sha256', deriveSigningKey(secret, scope[1], scope[2], scope[3])).update(policy).digest('hex')
  if (!signaturesEqual(expected, signature)) throw signatureMismatch()
}

function verifyV2 (fields: Map<string, string>, policy: string, secret: string): void {
  const provided = Buffer.from(fields.get('signature') ?? '', 'base64')
  const expected = createHmac('sha1', secret).update(policy).digest()
  if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) throw signatureMismatch()
}

function signatureMismatch (): S3Error {
  return new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.')
}

type Condition = { kind: 'eq' | 'starts-with', field: string, value: string } | { kind: 'length', min: number, max: number }

function invalidPolicy (why: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${why}`)
}

/** The policy's JSON, checked for shape; InvalidPolicyDocument (400) when it is not a policy. */
function parsePolicy (text: string): { expiration: number, conditions: Condition[] } {
  let doc: unknown
  try {
    doc = JSON.parse(Buffer.from(text, 'base64').toString('utf8'))
  } catch {
    throw invalidPolicy('the policy field is not base64 of a JSON document')
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalidPolicy('the policy must be a JSON object')
  const { expiration, conditions } = doc as Record<string, unknown>
  if (typeof expiration !== 'string') throw invalidPolicy('Policy missing expiration')
  const expires = Date.parse(expiration)
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(expiration) || Number.isNaN(expires)) throw invalidPolicy(`Invalid 'expiration' value: '${expiration}' (use ISO 8601 UTC, e.g. 2030-01-01T00:00:00Z)`)
  if (!Array.isArray(conditions)) throw invalidPolicy('Policy missing conditions')
  return { expiration: expires, conditions: conditions.map(parseCondition) }
}

function parseCondition (c: unknown): Condition {
  if (Array.isArray(c)) {
    const [op, a, b] = c as unknown[]
    const name = typeof op === 'string' ? op.toLowerCase() : ''
    if (name === 'content-length-range') {
      if (c.length !== 3 || !Number.isSafeInteger(a) || !Number.isSafeInteger(b) || (a as number) < 0 || (b as number) < (a as number)) {
        throw invalidPolicy('content-length-range needs two non-negative integers, min ≤ max')
      }
      return { kind: 'length', min: a as number, max: b as number }
    }
    if ((name === 'eq' || name === 'starts-with') && c.length === 3 && typeof a === 'string' && a.startsWith('$') && typeof b === 'string') {
      return { kind: name, field: a.slice(1).toLowerCase(), value: b }
    }
    throw invalidPolicy(`Invalid condition ${JSON.stringify(c)}: use ["eq", "$field", "value"], ["starts-with", "$field", "prefix"] or ["content-length-range", min, max]`)
  }
  if (typeof c === 'object' && c !== null) {
    const entries = Object.entries(c)
    if (entries.length === 1 && typeof entries[0][1] === 'string') return { kind: 'eq', field: entries[0][0].toLowerCase(), value: entries[0][1] }
  }
  throw invalidPolicy(`Invalid condition ${JSON.stringify(c)}: an object condition names exactly one field and its value`)
}

/** Applies the conditions to the fields (and the bucket); AccessDenied (403) names the one that failed. */
function checkPolicy (policy: { expiration: number, conditions: Condition[] }, fields: Map<string, string>, bucket: string): Policy {
  const denied = (why: string): S3Error => new S3Error('AccessDenied', `Invalid according to Policy: ${why}`)
  if (policy.expiration < Date.now()) throw denied('Policy expired.')
  let minBytes = 0
  let maxBytes = Number.MAX_SAFE_INTEGER
  const covered = new Set<string>()
  const valueOf = (field: string): string | undefined => field === 'bucket' ? bucket : fields.get(field)
  for (const c of policy.conditions) {
    if (c.kind === 'length') {
      minBytes = Math.max(minBytes, c.min)
      maxBytes = Math.min(maxBytes, c.max)
      continue
    }
    covered.add(c.field)
    const value = valueOf(c.field) ?? ''
    const holds = c.kind === 'eq' ? value === c.value : value.startsWith(c.value)
    if (!holds) throw denied(`Policy Condition failed: ["${c.kind}", "$${c.field}", "${c.value}"]`)
  }
  for (const name of fields.keys()) {
    if (UNCONDITIONED.has(name) || name.startsWith('x-ignore-') || covered.has(name)) continue
    throw denied(`Extra input fields: ${name}`)
  }
  return { minBytes, maxBytes }
}

/** The file's bytes, failing (before anything is committed) when they break the content-length-range. */
async function * limited (stream: Readable, min: number, max: number): AsyncGenerator<Buffer> {
  let size = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > max) throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { details: { ProposedSize: String(size), MaxSizeAllowed: String(max) } })
    yield chunk
  }
  if (size < min) throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', { details: { ProposedSize: String(size), MinSizeAllowed: String(min) } })
}
