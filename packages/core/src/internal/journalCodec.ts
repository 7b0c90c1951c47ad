/**
 * Encoding and decoding of journal records, shared by the file and SQL
 * journals: events are persisted in their Schema-encoded form.
 *
 * @internal
 */
import { Either, Option, ParseResult, Schema, SchemaAST } from "effect"
import * as Event from "../Event.js"

/** The Schema-encoded form of an event, as persisted. */
export type Encoded = typeof Event.Event.Encoded

const encodeEither = Schema.encodeEither(Event.Event)
const decodeEither = Schema.decodeUnknownEither(Event.Event)
// A type guard on the encoded side checks a record without building the class instances,
// which makes validating a whole journal on open much cheaper than decoding it.
const isEncoded = Schema.is(Schema.encodedBoundSchema(Event.Event))

/** The encoded event, or why it cannot be encoded (a bug in whoever built it). */
export const encode = (event: Event.Event): Either.Either<Encoded, string> =>
  Either.mapLeft(encodeEither(event), describe)

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

/**
 * Builds values from a record this code encoded itself (its checksum holds):
 * the Schema's transformations run — classes are built, unions follow their
 * `_tag` — but refinements are not re-checked. Compiled once from the
 * Schema's AST; a shape it does not handle (or any surprise) falls back to
 * the full decode, which then says what is wrong.
 */
type Build = (value: unknown) => unknown

class Untrusted extends Error {}

const fail = (): never => {
  throw new Untrusted()
}

const compile = (ast: SchemaAST.AST): Build => {
  switch (ast._tag) {
    case "Literal":
    case "StringKeyword":
    case "NumberKeyword":
    case "BooleanKeyword":
    case "UnknownKeyword":
    case "AnyKeyword":
    case "Enums":
    case "TemplateLiteral":
      return (value) => value
    case "Refinement":
      return compile(ast.from)
    case "Suspend": {
      let built: Build | undefined = undefined
      return (value) => (built ??= compile(ast.f()))(value)
    }
    case "Transformation": {
      const from = compile(ast.from)
      const transformation = ast.transformation
      if (transformation._tag === "TypeLiteralTransformation") {
        // Optional fields with defaults, renamed keys: each property transformation on the built struct.
        return (value) => {
          const out = from(value) as Record<PropertyKey, unknown>
          for (const property of transformation.propertySignatureTransformations) {
            const present = property.from in out ? Option.some(out[property.from]) : Option.none()
            delete out[property.from]
            const decoded = property.decode(present)
            if (Option.isSome(decoded)) out[property.to] = decoded.value
          }
          return out
        }
      }
      if (transformation._tag !== "FinalTransformation") return fail
      return (value) => {
        const result = transformation.decode(from(value), {}, ast, value)
        return Either.isEither(result) && Either.isRight(result) ? result.right : fail()
      }
    }
    case "TypeLiteral": {
      if (ast.indexSignatures.length > 0) return fail
      const fields = ast.propertySignatures.map((signature) => ({
        name: signature.name,
        optional: signature.isOptional,
        build: compile(signature.type)
      }))
      return (value) => {
        if (typeof value !== "object" || value === null) return fail()
        const record = value as Record<PropertyKey, unknown>
        const out: Record<PropertyKey, unknown> = {}
        for (const field of fields) {
          if (field.name in record) out[field.name] = field.build(record[field.name])
          else if (!field.optional) fail()
        }
        return out
      }
    }
    case "TupleType": {
      if (ast.elements.length > 0 || ast.rest.length !== 1) return fail
      const element = compile(ast.rest[0]!.type)
      return (value) => Array.isArray(value) ? value.map(element) : fail()
    }
    case "Union": {
      const literals = new Set<unknown>()
      const tagged = new Map<unknown, Build>()
      for (const member of ast.types) {
        if (member._tag === "Literal") {
          literals.add(member.literal)
          continue
        }
        const tag = tagOf(member)
        if (tag !== undefined) tagged.set(tag, compile(member))
      }
      // Untagged members are told apart by their JSON type (string, number, array, object): one each at most.
      const byType = new Map<string, Build>()
      for (const member of ast.types) {
        if (member._tag === "Literal" || tagOf(member) !== undefined) continue
        const type = jsonType(member)
        if (type === undefined || byType.has(type) || (type === "object" && tagged.size > 0)) return fail
        byType.set(type, compile(member))
      }
      return (value) => {
        if (literals.has(value)) return value
        const type = value === null ? "null" : Array.isArray(value) ? "array" : typeof value
        if (type === "object" && tagged.size > 0) {
          const build = tagged.get((value as { readonly _tag?: unknown })._tag)
          return build === undefined ? fail() : build(value)
        }
        const build = byType.get(type)
        return build === undefined ? fail() : build(value)
      }
    }
    default:
      return fail
  }
}

/** The JSON type of a member's encoded values, when it has a single one. */
const jsonType = (ast: SchemaAST.AST): string | undefined => {
  switch (ast._tag) {
    case "StringKeyword":
    case "TemplateLiteral":
      return "string"
    case "NumberKeyword":
      return "number"
    case "BooleanKeyword":
      return "boolean"
    case "TupleType":
      return "array"
    case "TypeLiteral":
      return "object"
    case "Refinement":
    case "Transformation":
      return jsonType(ast.from)
    default:
      return undefined
  }
}

/** The `_tag` literal of a (class or struct) member's encoded side, if it has one. */
const tagOf = (ast: SchemaAST.AST): unknown => {
  let side = ast
  while (side._tag === "Transformation") side = side.from
  if (side._tag !== "TypeLiteral") return undefined
  const tag = side.propertySignatures.find((signature) => signature.name === "_tag")
  return tag !== undefined && tag.type._tag === "Literal" ? tag.type.literal : undefined
}

let trusted: Build | undefined = undefined

/** Decodes an event this code encoded (checksum verified): no re-validation; falls back to `decode`. */
export const decodeTrusted = (value: unknown): Either.Either<Event.Event, string> => {
  try {
    const event = (trusted ??= compile(Event.Event.ast))(value)
    if (event instanceof Event.Event) return Either.right(event)
  } catch (error) {
    if (!(error instanceof Untrusted)) return decode(value)
  }
  return decode(value)
}
