// Translating whatever an SDK request rejected with into a McpServerError, once, by type and code (the SDK's
// McpError codes, StreamableHTTPError statuses, Zod and JSON errors), every detail scrubbed of secrets.
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js"
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js"
import { Option } from "effect"
import { McpServerError, type ServerErrorReason } from "./error.js"
import { AuthorizationFailed } from "./oauth.js"

export const truncate = (text: string, max = 500): string => text.length > max ? `${text.slice(0, max)}…` : text

export const isMalformed = (error: unknown): boolean =>
  error instanceof SyntaxError ||
  (error instanceof Error && (error.name === "ZodError" || error.name === "$ZodError"))

// A one-line account of a message that is not JSON-RPC, or of a result of the wrong shape.
const malformedText = (error: unknown): string => {
  if (error instanceof SyntaxError) return `not JSON (${error.message})`
  const issues = (error as { issues?: ReadonlyArray<{ path?: ReadonlyArray<PropertyKey>; message?: string }> }).issues
  const first = issues?.[0]
  if (issues === undefined || first === undefined) return truncate(String(error), 200)
  const path = (first.path ?? []).map(String).join(".")
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problems)` : ""
  return `${path === "" ? "the message" : `"${path}"`}: ${first.message ?? "invalid"}${more}`
}

export const errorText = (error: unknown): string => {
  if (error instanceof StreamableHTTPError && error.code !== undefined && error.code > 0) {
    return `${error.message} (HTTP ${error.code})`
  }
  if (isMalformed(error)) return malformedText(error)
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause
    return cause instanceof Error && cause.message !== "" && !error.message.includes(cause.message)
      ? `${error.message} (${cause.message})`
      : error.message
  }
  return String(error)
}

// The SDK validates structured content against the tool's output schema and says so only in its message.
const structuredContentProblems = [
  "Structured content does not match",
  "Failed to validate structured content",
  "did not return structured content"
]

export interface Context {
  readonly server: string
  readonly scrub: (text: string) => string
  /** Set when the server broke the protocol on this connection. */
  readonly broken: Option.Option<string>
  /** The end of the server's stderr, already scrubbed, for crash details. */
  readonly stderrTail: string
}

/** The typed error of a failed request. */
export const classify = (context: Context, method: string, error: unknown): McpServerError => {
  const make = (reason: ServerErrorReason, detail: string, code: number | null = null) =>
    McpServerError.of(context.server, reason, context.scrub(detail), { code, cause: scrubbedCause(context, error) })
  if (Option.isSome(context.broken)) {
    return make("malformed_response", `${context.broken.value} (while waiting for ${method}).`)
  }
  if (error instanceof McpError) {
    if (error.code === ErrorCode.ConnectionClosed) {
      return make("crashed", `the connection closed during ${method}.${context.stderrTail}`, error.code)
    }
    if (error.code === ErrorCode.RequestTimeout) return make("timeout", `${method}: ${error.message}`, error.code)
    if (structuredContentProblems.some((text) => error.message.includes(text))) {
      return make("malformed_response", error.message)
    }
    return make("request_failed", error.message, error.code)
  }
  if (isMalformed(error)) return make("malformed_response", `the answer to ${method} is invalid: ${errorText(error)}`)
  if (error instanceof AuthorizationFailed || error instanceof UnauthorizedError) {
    return make("unauthorized", `${method}: ${errorText(error)}`)
  }
  if (error instanceof StreamableHTTPError) {
    const reason = error.code === 401 || error.code === 403 ? "unauthorized" : "unavailable"
    return make(reason, `${method}: ${errorText(error)}`, error.code ?? null)
  }
  return make("unavailable", `${method}: ${errorText(error)}`)
}

// The cause travels with the error (and gets logged and printed): it must not carry a secret either.
const scrubbedCause = (context: Context, error: unknown): unknown => {
  if (!(error instanceof Error)) return context.scrub(String(error))
  const copy = new Error(context.scrub(error.message))
  copy.name = error.name
  copy.stack = context.scrub(error.stack ?? "")
  return copy
}
