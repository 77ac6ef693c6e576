/**
 * Errors thrown by MetadataStore implementations. Each failure has its own class, told apart by
 * `name` (never by message text); the underlying driver error, when there is one, is kept as `cause`.
 *
 * Driver errors that mean "the database is unreachable or broken" (connection refused, disk full,
 * corrupt file) are not wrapped: they reach the caller unchanged, because no caller can do anything
 * more specific with them than report them.
 */

/** A record with the same identity (id, name, bucket, segment index) already exists. */
export class AlreadyExistsError extends Error {
  static readonly NAME = 'AlreadyExistsError'
  override readonly name = AlreadyExistsError.NAME

  constructor (message = 'The record already exists; choose another id or name.', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The record an operation needs (bucket, upload) does not exist. */
export class NotFoundError extends Error {
  static readonly NAME = 'NotFoundError'
  override readonly name = NotFoundError.NAME

  constructor (message = 'The record does not exist.', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A bucket cannot be deleted because it still holds visible objects. */
export class BucketNotEmptyError extends Error {
  static readonly NAME = 'BucketNotEmptyError'
  override readonly name = BucketNotEmptyError.NAME

  constructor (message = 'The bucket still holds objects; delete them first.', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * An upload is not in the state an operation needs: adding a segment to, committing or aborting an
 * upload that is no longer pending, or committing one whose stored segments do not match the object.
 */
export class UploadStateError extends Error {
  static readonly NAME = 'UploadStateError'
  override readonly name = UploadStateError.NAME

  constructor (message = 'The upload is not pending; start a new upload.', options?: ErrorOptions) {
    super(message, options)
  }
}

/** An argument is malformed (a negative limit, a store URL of an unknown kind, a bad schema name). */
export class InvalidArgumentError extends Error {
  static readonly NAME = 'InvalidArgumentError'
  override readonly name = InvalidArgumentError.NAME

  constructor (message = 'Invalid argument.', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends Error {
  static readonly NAME = 'StoreClosedError'
  override readonly name = StoreClosedError.NAME

  constructor (message = 'The metadata store is closed; open a new one.', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * A schema migration failed; `cause` holds the database's error. Each migration runs in one transaction,
 * so the schema is left at the last migration that succeeded; fix the cause and call `migrate()` again.
 */
export class MigrationError extends Error {
  static readonly NAME = 'MigrationError'
  override readonly name = MigrationError.NAME

  constructor (message = 'The metadata schema migration failed.', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * A conditional commit whose condition did not hold: If-None-Match '*' while the key exists, or
 * If-Match naming another ETag (or none). Nothing was changed.
 */
export class PreconditionFailedError extends Error {
  static readonly NAME = 'PreconditionFailedError'
  override readonly name = PreconditionFailedError.NAME

  constructor (message = 'The object changed; the condition of this write no longer holds.', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * What a write depended on changed under it: a part named in assembleObject is no longer the visible
 * version with that upload (a concurrent write replaced or deleted it). Nothing was changed.
 */
export class ConflictError extends Error {
  static readonly NAME = 'ConflictError'
  override readonly name = ConflictError.NAME

  constructor (message = 'The data this write depends on changed; retry it.', options?: ErrorOptions) {
    super(message, options)
  }
}
