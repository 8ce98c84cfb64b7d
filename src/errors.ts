/** Base class of every error the project raises on purpose: `code` is stable, `message` says what to do. */
export class MgieError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "MgieError";
  }
}

/** The image could not be read: missing, empty, corrupt, truncated, not an image, or too large. `field` names the input at fault. */
export class ImageInputError extends MgieError {
  readonly field: string;

  constructor(code: string, message: string, options?: { cause?: unknown; field?: string }) {
    super(code, message, options);
    this.name = "ImageInputError";
    this.field = options?.field ?? "image";
  }
}

/** A dataset or asset file on disk is missing, truncated or not what it claims to be. */
export class DataFormatError extends MgieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("DATA_FORMAT", message, options);
    this.name = "DataFormatError";
  }
}

/** A parameter given by the user is out of range or malformed; `field` names it where there is one. */
export class InvalidArgumentError extends MgieError {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super("INVALID_ARGUMENT", message);
    this.name = "InvalidArgumentError";
  }
}
