/**
 * S3 errors: one class carrying the S3 error code (the wire protocol's stable name), its HTTP status
 * and a message for people. The S3 server turns every thrown error into an XML error body in one place.
 * Codes and statuses follow the S3 API reference's "Error responses" table.
 */

export const S3_ERROR_STATUS = {
  AccessControlListNotSupported: 400,
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IllegalLocationConstraintException: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketAclWithObjectOwnership: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidLocationConstraint: 400,
  InvalidPart: 400,
  InvalidPartNumber: 416,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidURI: 400,
  KeyTooLongError: 400,
  MalformedPOSTRequest: 400,
  MalformedXML: 400,
  MaxPostPreDataLengthExceeded: 400,
  InvalidPolicyDocument: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchBucketPolicy: 404,
  NoSuchCORSConfiguration: 404,
  NoSuchKey: 404,
  NoSuchLifecycleConfiguration: 404,
  NoSuchTagSet: 404,
  NoSuchUpload: 404,
  NoSuchWebsiteConfiguration: 404,
  NotImplemented: 501,
  ObjectLockConfigurationNotFoundError: 404,
  PreconditionFailed: 412,
  ReplicationConfigurationNotFoundError: 404,
  RequestTimeTooSkewed: 403,
  ServerSideEncryptionConfigurationNotFoundError: 404,
  SignatureDoesNotMatch: 403,
  ServiceUnavailable: 503,
  SlowDown: 503,
  XAmzContentSHA256Mismatch: 400,
  ConditionalRequestConflict: 409,
  NotModified: 304
} as const

export type S3ErrorCode = keyof typeof S3_ERROR_STATUS

/** An error with an S3 code; `status` comes from the code unless given. */
export class S3Error extends Error {
  override readonly name = 'S3Error'
  readonly code: S3ErrorCode
  readonly status: number
  /** Extra elements for the XML error body (e.g. BucketName, Key, ArgumentName). */
  readonly details: Readonly<Record<string, string>>

  constructor (code: S3ErrorCode, message: string, options: ErrorOptions & { details?: Record<string, string>, status?: number } = {}) {
    super(message, options)
    this.code = code
    this.status = options.status ?? S3_ERROR_STATUS[code]
    this.details = options.details ?? {}
  }
}
