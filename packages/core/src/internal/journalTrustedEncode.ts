/**
 * Trusted encoding: the JSON text of an event's Schema encoding, written
 * directly (see `compileWrite`); the counterpart of `journalTrusted.ts`.
 *
 * @internal
 */
import { Option, SchemaAST } from "effect"
import * as Event from "../Event.js"
import { fail, isRecord, isUntagged, jsonType, literalRename, membersOf, tagOf } from "./journalTrusted.js"

/** The JSON text of a value's encoded form. */
type Write = (value: unknown) => string

const json: Write = (value) => JSON.stringify(value)

/**
 * Compiles a writer of the JSON text that `JSON.stringify(Schema.encode(x))`
 * gives, in the same key order (the encoded struct's property order, which
 * is the order Schema's encoder builds its output in). Refinements are not
 * checked: the events written were built by their validating constructors or
 * by the environment from fields it produced. A missing required field, an
 * unknown tag or a transformation other than a class or struct defaults
 * makes it give up, and the caller runs the full encode.
 */
const compileWrite = (ast: SchemaAST.AST): Write => {
  switch (ast._tag) {
    case "Literal":
    case "StringKeyword":
    case "NumberKeyword":
    case "BooleanKeyword":
    case "UnknownKeyword":
    case "AnyKeyword":
    case "Enums":
    case "TemplateLiteral":
      return json
    case "Refinement":
      return compileWrite(ast.from)
    case "Suspend": {
      let built: Write | undefined = undefined
      return (value) => (built ??= compileWrite(ast.f()))(value)
    }
    case "Transformation": {
      // A class encodes to its fields (its encode is the identity on instances); struct defaults encode per property.
      if (ast.transformation._tag === "FinalTransformation" && ast.to._tag === "Declaration") return compileWrite(ast.from)
      if (ast.transformation._tag !== "TypeLiteralTransformation") return fail
      const from = compileWrite(ast.from)
      const properties = ast.transformation.propertySignatureTransformations
      return (value) => {
        if (typeof value !== "object" || value === null) return fail()
        const record: Record<PropertyKey, unknown> = { ...value }
        for (const property of properties) {
          const present = property.to in record ? Option.some(record[property.to]) : Option.none()
          delete record[property.to]
          const encoded = property.encode(present)
          if (Option.isSome(encoded)) record[property.from] = encoded.value
        }
        return from(record)
      }
    }
    case "TypeLiteral": {
      if (isRecord(ast)) {
        const entry = compileWrite(ast.indexSignatures[0]!.type)
        return (value) => {
          if (typeof value !== "object" || value === null || Array.isArray(value)) return fail()
          let out = "{"
          for (const key of Object.keys(value)) {
            const present = (value as Record<string, unknown>)[key]
            if (present === undefined) continue
            out += `${out.length === 1 ? "" : ","}${JSON.stringify(key)}:${entry(present)}`
          }
          return out + "}"
        }
      }
      if (ast.indexSignatures.length > 0) return fail
      const fields = ast.propertySignatures.map((signature) => ({
        name: signature.name,
        optional: signature.isOptional,
        // `"name":` with the comma before every field but the first written.
        key: `${JSON.stringify(signature.name)}:`,
        write: typeof signature.name === "string" ? compileWrite(signature.type) : fail
      }))
      return (value) => {
        if (typeof value !== "object" || value === null) return fail()
        const record = value as Record<PropertyKey, unknown>
        let out = "{"
        let empty = true
        for (let i = 0; i < fields.length; i++) {
          const field = fields[i]!
          const present = record[field.name]
          if (present === undefined) {
            // JSON.stringify leaves out an undefined optional value; a required one is a bug the full encode names.
            if (!field.optional) fail()
            continue
          }
          out += empty ? field.key : `,${field.key}`
          out += field.write(present)
          empty = false
        }
        return out + "}"
      }
    }
    case "TupleType": {
      if (ast.elements.length > 0 || ast.rest.length !== 1) return fail
      const element = compileWrite(ast.rest[0]!.type)
      if (element === json) return json
      return (value) => {
        if (!Array.isArray(value)) return fail()
        let out = "["
        for (let i = 0; i < value.length; i++) out += i === 0 ? element(value[i]) : `,${element(value[i])}`
        return out + "]"
      }
    }
    case "Union":
      return compileUnionWrite(ast)
    default:
      return fail
  }
}

const compileUnionWrite = (ast: SchemaAST.Union): Write => {
  const literals = new Set<unknown>()
  const tagged = new Map<unknown, Write>()
  // A renamed literal (`Schema.transformLiteral`) is written in its encoded spelling, unless a plain
  // literal member before it already takes the value (the Schema encoding's first match).
  const renamedBack = new Map<unknown, unknown>()
  const members = membersOf(ast)
  for (const member of members) {
    if (member._tag === "Literal") literals.add(member.literal)
    else {
      const rename = literalRename(member)
      if (rename !== undefined) {
        if (!literals.has(rename.to) && !renamedBack.has(rename.to)) renamedBack.set(rename.to, rename.from)
        continue
      }
      const tag = tagOf(member)
      if (tag !== undefined) tagged.set(tag, compileWrite(member))
    }
  }
  // Other members by the JavaScript type of their values, which is their JSON type when they have no transformation.
  const byType = new Map<string, Write>()
  for (const member of members) {
    if (!isUntagged(member)) continue
    const type = plainType(member)
    if (type === undefined || byType.has(type) || (type === "object" && tagged.size > 0)) return fail
    byType.set(type, compileWrite(member))
  }
  return (value) => {
    if (literals.has(value)) return json(value)
    if (renamedBack.has(value)) return json(renamedBack.get(value))
    const type = value === null ? "null" : Array.isArray(value) ? "array" : typeof value
    if (type === "object" && tagged.size > 0) {
      const write = tagged.get((value as { readonly _tag?: unknown })._tag)
      return write === undefined ? fail() : write(value)
    }
    const write = byType.get(type)
    return write === undefined ? fail() : write(value)
  }
}

/** The JSON type of a member without transformations (same on both sides), if it has a single one. */
const plainType = (ast: SchemaAST.AST): string | undefined =>
  ast._tag === "Transformation" ? undefined : jsonType(ast)

let eventWrite: Write | undefined = undefined
let payloadWrite: Write | undefined = undefined

const attempt = (write: Write, value: unknown): string | undefined => {
  try {
    return write(value)
  } catch {
    return undefined
  }
}

/** `JSON.stringify(Schema.encode(Event)(event))`, written directly; `undefined` when the trusted path cannot. */
export const encodeEvent = (event: Event.Event): string | undefined =>
  attempt(eventWrite ??= compileWrite(Event.Event.ast), event)

/** `JSON.stringify(Schema.encode(Payload)(payload))`, written directly; `undefined` when the trusted path cannot. */
export const encodePayload = (payload: Event.Payload): string | undefined =>
  attempt(payloadWrite ??= compileWrite(Event.Payload.ast), payload)
