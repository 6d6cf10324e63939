/** An error answer of an emulated API; each protocol renders it its own way. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** EBS direct APIs: the `Reason` member (INVALID_BLOCK_TOKEN, SNAPSHOT_NOT_FOUND, …). */
    readonly reason?: string,
  ) {
    super(message);
  }
}

export interface ApiResponse {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
}
