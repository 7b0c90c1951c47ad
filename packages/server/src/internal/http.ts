/**
 * Request bodies and refusals: every body is size-limited, parsed and decoded
 * with Schema before anything is published; a bad one becomes an HTTP 4xx.
 *
 * @internal
 */
import { HttpIncomingMessage, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option, ParseResult, Schema } from "effect"

/** A request the server refuses, with the status and the message the client gets. */
export class Refused extends Schema.TaggedError<Refused>()("Refused", {
  status: Schema.Number,
  detail: Schema.String,
  /** `openai`: the OpenAI error shape (`{ error: { message, type } }`), read by the SDK's error classes. */
  shape: Schema.optionalWith(Schema.Literal("chorus", "openai"), { default: () => "chorus" as const })
}) {
  override get message() {
    return this.detail
  }
}

const errorType = (status: number) =>
  status === 401 || status === 403 ? "permission_error" : status === 404 ? "not_found_error" : "invalid_request_error"

/** The response a refusal becomes. Only the refusal's own text is sent: never a header, a cause or a stack. */
export const refusalResponse = (error: Refused) =>
  HttpServerResponse.unsafeJson(
    error.shape === "openai"
      ? { error: { message: error.detail, type: errorType(error.status), param: null, code: null } }
      : { error: error.detail },
    { status: error.status }
  )

const describe = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** A parse error as one line per issue: `text: Expected string, actual 3`. */
export const issues = (error: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => (issue.path.length === 0 ? "" : `${issue.path.join(".")}: `) + issue.message)
    .join("; ")

/** Options of {@link decodeBody}. */
export interface BodyOptions {
  readonly maxBytes: number
  /** What the body should be, for the error message. */
  readonly expected: string
  /** Refuse unknown fields (default) or ignore them (wire protocols whose clients send more than we read). */
  readonly excess?: "error" | "ignore" | undefined
  readonly shape?: "chorus" | "openai" | undefined
}

/** Reads and decodes a JSON body: 413 when too large, 415 when not JSON, 400 when not the expected shape. */
export const decodeBody = <A, I>(schema: Schema.Schema<A, I, never>, options: BodyOptions) =>
  Effect.gen(function*() {
    const shape = options.shape ?? "chorus"
    const request = yield* HttpServerRequest.HttpServerRequest
    const refuse = (status: number, detail: string) => new Refused({ status, detail, shape })
    const length = Number(request.headers["content-length"] ?? "0")
    if (length > options.maxBytes) {
      return yield* refuse(413, `the body is larger than ${options.maxBytes} bytes`)
    }
    const contentType = request.headers["content-type"] ?? ""
    if (contentType !== "" && !/^application\/(.+\+)?json\b/i.test(contentType)) {
      return yield* refuse(415, `the body must be JSON (content-type application/json), got ${contentType}`)
    }
    const text = yield* request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(options.maxBytes)),
      Effect.mapError((error) =>
        /too large|size/i.test(describe(error))
          ? refuse(413, `the body is larger than ${options.maxBytes} bytes`)
          : refuse(400, `the body could not be read: ${describe(error)}`)
      )
    )
    return yield* Schema.decodeUnknown(Schema.parseJson(schema), {
      errors: "all",
      onExcessProperty: options.excess ?? "error"
    })(text).pipe(
      Effect.mapError((error) => refuse(400, `the body is not ${options.expected}: ${issues(error)}`))
    )
  })

/** `202 Accepted` with a JSON body. */
export const accepted = (value: unknown) => HttpServerResponse.unsafeJson(value, { status: 202 })

/** Text that must not be empty. */
export const NonBlank = Schema.String.pipe(
  Schema.filter((text) => text.trim().length > 0, { message: () => "must not be empty" })
)
