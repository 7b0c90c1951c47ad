/**
 * Encoding and decoding of journal records, shared by the file and SQL
 * journals: events are persisted in their Schema-encoded form.
 *
 * @internal
 */
import { Either, ParseResult, Schema } from "effect"
import * as Event from "../Event.js"
import * as Trusted from "./journalTrusted.js"
import * as TrustedEncode from "./journalTrustedEncode.js"

/** The Schema-encoded form of an event, as persisted. */
export type Encoded = typeof Event.Event.Encoded

const encodeEither = Schema.encodeEither(Event.Event)
const encodePayloadEither = Schema.encodeEither(Event.Payload)
const decodeEither = Schema.decodeUnknownEither(Event.Event)
// A type guard on the encoded side checks a record without building the class instances,
// which makes validating a whole journal on open much cheaper than decoding it.
const isEncoded = Schema.is(Schema.encodedBoundSchema(Event.Event))

/** The encoded event, or why it cannot be encoded (a bug in whoever built it). */
export const encode = (event: Event.Event): Either.Either<Encoded, string> =>
  Either.mapLeft(encodeEither(event), describe)

/**
 * The JSON text of the encoded event: written directly by the trusted
 * encoder (the same text, see `journalTrusted.ts`), or by the full encode,
 * which says why an event cannot be encoded.
 */
export const encodeJson = (event: Event.Event): Either.Either<string, string> => {
  const text = TrustedEncode.encodeEvent(event)
  return text !== undefined ? Either.right(text) : Either.map(encode(event), (encoded) => JSON.stringify(encoded))
}

/** The JSON text of the encoded payload, as {@link encodeJson}. */
export const encodePayloadJson = (payload: Event.Payload): Either.Either<string, string> => {
  const text = TrustedEncode.encodePayload(payload)
  return text !== undefined
    ? Either.right(text)
    : Either.map(Either.mapLeft(encodePayloadEither(payload), describe), (encoded) => JSON.stringify(encoded))
}

/** JSON text to a value, or why it is not JSON. */
export const parseJson = (text: string): Either.Either<unknown, string> => {
  try {
    return Either.right(JSON.parse(text))
  } catch (error) {
    return Either.left(`invalid JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** A decoded event, or why the value is not one. */
export const decode = (value: unknown): Either.Either<Event.Event, string> =>
  Either.mapLeft(decodeEither(value), (error) => `not an event: ${describe(error)}`)

/**
 * The sequence of a value that has the encoded shape of an event, or why it
 * has not (the reason is computed by a full decode, only on failure).
 */
export const check = (value: unknown): Either.Either<number, string> => {
  if (isEncoded(value)) return Either.right(value.sequence)
  return Either.flatMap(decode(value), (event) => Either.right(event.sequence))
}

/** Is this a sequence an event may carry (a non-negative integer)? */
export const isSequence = (sequence: number): boolean => Number.isSafeInteger(sequence) && sequence >= 0

/** The first issues of a parse error, one line, bounded (a union of 40 events makes long reports). */
const describe = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const text = issues.slice(0, 3).map((issue) =>
    `${issue.path.length === 0 ? "" : `${issue.path.join(".")}: `}${issue.message}`
  ).join("; ")
  const more = issues.length > 3 ? ` (+${issues.length - 3} more)` : ""
  return truncate(text + more, 400)
}

/** Cuts a text to `max` characters. */
export const truncate = (text: string, max: number): string => text.length <= max ? text : `${text.slice(0, max - 1)}…`

// ---------------------------------------------------------------------------
// Trusted decoding
// ---------------------------------------------------------------------------

/** Decodes an event this code encoded (checksum verified): no re-validation; falls back to `decode`. */
export const decodeTrusted = (value: unknown): Either.Either<Event.Event, string> => {
  const event = Trusted.decodeEvent(value)
  return event === undefined ? decode(value) : Either.right(event)
}

/**
 * The event in a JSON text, or why it is none: `trusted` (the record's
 * checksum holds) takes the trusted decode when it can build the event.
 * Nothing is allocated beyond the parse and the event on that path.
 */
export const eventFromJson = (text: string, trusted: boolean): Event.Event | string => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return `invalid JSON: ${error instanceof Error ? error.message : String(error)}`
  }
  if (trusted) {
    const event = Trusted.decodeEvent(value)
    if (event !== undefined) return event
  }
  const decoded = decode(value)
  return Either.isRight(decoded) ? decoded.right : decoded.left
}
