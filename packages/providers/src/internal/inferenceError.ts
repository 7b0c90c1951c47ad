/**
 * Provider-neutral constructors of `InferenceError`: from an HTTP status, from
 * a provider's error code, for a malformed stream; and the scrubbing of a
 * secret out of an error's detail and cause. Every provider translates its
 * lower-layer errors through these, once.
 *
 * @internal
 */
import { InferenceRunner } from "@chorus/core"

type InferenceError = InferenceRunner.InferenceError
type ErrorReason = InferenceRunner.ErrorReason

/** The optional fields of an inference error. */
export interface Extra {
  readonly status?: number | null | undefined
  readonly retryAfterMs?: number | null | undefined
  readonly code?: string | null | undefined
  readonly cause?: unknown
}

/** Makes an inference error. */
export const make = (reason: ErrorReason, detail: string, extra?: Extra): InferenceError =>
  new InferenceRunner.InferenceError({
    reason,
    detail,
    status: extra?.status ?? null,
    retryAfterMs: extra?.retryAfterMs ?? null,
    code: extra?.code ?? null,
    ...(extra?.cause === undefined ? {} : { cause: extra.cause })
  })

/** A malformed-stream error. */
export const malformed = (detail: string): InferenceError => make("malformed_stream", detail)

/** The reason behind an HTTP status. */
export const reasonOfStatus = (status: number): ErrorReason => {
  if (status === 401 || status === 403) return "authentication"
  if (status === 429) return "rate_limit"
  if (status === 408) return "timeout"
  if (status >= 500) return "server"
  if (status >= 400) return "bad_request"
  return "other"
}

/** The reason behind a provider's error code (`rate_limit_exceeded`, `server_error`, `overloaded_error`, 500 …). */
export const reasonOfCode = (code: string | number | null | undefined): ErrorReason => {
  if (typeof code === "number") return reasonOfStatus(code)
  if (typeof code !== "string") return "other"
  if (/^\d{3}$/.test(code)) return reasonOfStatus(Number(code))
  if (code.includes("rate_limit")) return "rate_limit"
  if (/auth|permission|api_key/.test(code)) return "authentication"
  if (/server|internal|overloaded|unavailable/.test(code)) return "server"
  if (/timeout|timed_out/.test(code)) return "timeout"
  if (/invalid|context_length|not_found|unsupported/.test(code)) return "bad_request"
  return "other"
}

/** A provider's error code as a string, whatever JSON type it was sent as. */
export const codeOf = (code: unknown): string | null =>
  typeof code === "string" && code !== "" ? code : typeof code === "number" ? String(code) : null

/** An error the provider reported (in the stream or in a response body), keeping its code. */
export const fromProvider = (
  body: { readonly code?: unknown; readonly type?: unknown; readonly message?: unknown } | null | undefined,
  what: string
): InferenceError => {
  const code = codeOf(body?.code) ?? codeOf(body?.type)
  const message = typeof body?.message === "string" && body.message !== "" ? body.message : "no message"
  const suffix = typeof body?.code === "string" && body.code !== "" ? ` (${body.code})` : ""
  return make(reasonOfCode(code), `${what}: ${message}${suffix}`, { code })
}

const redacted = "<redacted>"

/** Removes every occurrence of the secret from a text. */
export const scrub = (text: string, secret: string | undefined): string =>
  secret === undefined || secret.length < 4 ? text : text.split(secret).join(redacted)

/** A copy of an error (and its causes) that holds only names and scrubbed messages. */
export const sanitize = (error: unknown, secret: string | undefined, depth = 0): Error => {
  const source = error instanceof Error ? error : new Error(String(error))
  const copy = new Error(scrub(source.message, secret))
  copy.name = source.name
  if (source.stack !== undefined) copy.stack = scrub(source.stack, secret)
  if (depth < 3 && "cause" in source && source.cause !== undefined) {
    copy.cause = sanitize(source.cause, secret, depth + 1)
  }
  return copy
}

/** The error with the secret scrubbed from its detail (errors made from provider events echo what they were sent). */
export const scrubbed = (error: InferenceError, secret: string | undefined): InferenceError => {
  const detail = scrub(error.detail, secret)
  return detail === error.detail ? error : make(error.reason, detail, {
    status: error.status,
    retryAfterMs: error.retryAfterMs,
    code: error.code,
    cause: error.cause === undefined ? undefined : sanitize(error.cause, secret)
  })
}

/** The messages of an error and its causes, outermost first (`fetch failed: connect ECONNREFUSED …`). */
export const causes = (error: unknown): string => {
  const messages: Array<string> = []
  let current = error
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current.message !== "" && !messages.includes(current.message)) messages.push(current.message)
    current = current.cause
  }
  return messages.length === 0 ? "unknown error" : messages.join(": ")
}
