// McpServerError and its constructors; re-exported by McpClient.ts.
import { Schema } from "effect"

/** Why a request to a server did not produce its result. */
export const ServerErrorReason = Schema.Literal(
  "not_configured",
  "start_failed",
  "unavailable",
  "crashed",
  "malformed_response",
  "timeout",
  "unsupported",
  "request_failed",
  "unauthorized"
)
export type ServerErrorReason = typeof ServerErrorReason.Type

/**
 * A server could not be started or reached, broke the protocol, or answered a
 * request with a JSON-RPC error (`code`). The detail never holds configured
 * header or environment values, nor OAuth tokens.
 */
export class McpServerError extends Schema.TaggedError<McpServerError>()("McpServerError", {
  server: Schema.String,
  reason: ServerErrorReason,
  detail: Schema.String,
  code: Schema.NullOr(Schema.Number),
  cause: Schema.optional(Schema.Defect)
}) {
  /** A server name that is not in the configuration. */
  static notConfigured(server: string, configured: ReadonlyArray<string>) {
    return new McpServerError({
      server,
      reason: "not_configured",
      detail: `Configured servers: ${configured.join(", ") || "none"}.`,
      code: null
    })
  }

  /** The client's scope is closed. */
  static closed(server: string) {
    return new McpServerError({ server, reason: "unavailable", detail: "the client is closed.", code: null })
  }

  /** A reason and a detail, already scrubbed of secrets. */
  static of(server: string, reason: ServerErrorReason, detail: string, options?: { code?: number | null; cause?: unknown }) {
    return new McpServerError({
      server,
      reason,
      detail,
      code: options?.code ?? null,
      ...(options?.cause === undefined ? {} : { cause: options.cause })
    })
  }

  override get message() {
    switch (this.reason) {
      case "not_configured":
        return `MCP server "${this.server}" is not configured. ${this.detail}`
      case "start_failed":
        return `MCP server "${this.server}" failed to start: ${this.detail}`
      case "unavailable":
        return `MCP server "${this.server}" is unavailable: ${this.detail}`
      case "crashed":
        return `MCP server "${this.server}" crashed: ${this.detail}`
      case "malformed_response":
        return `MCP server "${this.server}" sent a malformed response: ${this.detail}`
      case "timeout":
        return `MCP server "${this.server}" timed out: ${this.detail}`
      case "unsupported":
        return `MCP server "${this.server}" does not support this: ${this.detail}`
      case "request_failed":
        return `MCP server "${this.server}" refused the request: ${this.detail}`
      case "unauthorized":
        return `MCP server "${this.server}" refused the credentials: ${this.detail}`
    }
  }
}
