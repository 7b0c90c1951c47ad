/**
 * Trusted decoding (the encoding is in `journalTrustedEncode.ts`): builds events from records this code encoded itself
 * (their checksum holds), without the cost of a Schema decode.
 *
 * Compiled once from the Schema's AST. Transformations run — unions follow
 * their `_tag`, optional fields get their defaults — but refinements are not
 * re-checked, and a Schema class is built by prototype: `Object.create` of
 * the class's prototype plus its fields, which is what its constructor
 * produces with validation off (`new X(props, true)` assigns the props onto
 * the instance), without the constructor's copies and default merging. A
 * shape the compiler does not know, or a value that does not fit (a newer
 * event kind, a changed field), makes it give up: the caller then runs the
 * full decode, which says what is wrong.
 *
 * @internal
 */
import { Either, Option, SchemaAST } from "effect"
import * as Event from "../Event.js"

type Build = (value: unknown) => unknown
/** Writes the fields of an encoded struct, decoded, onto `target`. */
type Fill = (value: unknown, target: Record<PropertyKey, unknown>) => void

class Untrusted extends Error {}

export const fail = (): never => {
  throw new Untrusted()
}

const identity: Build = (value) => value

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
      return identity
    case "Refinement":
      return compile(ast.from)
    case "Suspend": {
      let built: Build | undefined = undefined
      return (value) => (built ??= compile(ast.f()))(value)
    }
    case "Transformation":
      return compileTransformation(ast)
    case "TypeLiteral": {
      if (isRecord(ast)) {
        const entry = compile(ast.indexSignatures[0]!.type)
        return (value) => {
          if (typeof value !== "object" || value === null || Array.isArray(value)) return fail()
          const out: Record<string, unknown> = {}
          for (const key of Object.keys(value)) {
            // An own `__proto__` key (JSON.parse makes one) would set the prototype here: left to the full decode.
            if (key === "__proto__") fail()
            out[key] = entry((value as Record<string, unknown>)[key])
          }
          return out
        }
      }
      const fill = compileFields(ast)
      return (value) => {
        const out: Record<PropertyKey, unknown> = {}
        fill(value, out)
        return out
      }
    }
    case "TupleType": {
      if (ast.elements.length > 0 || ast.rest.length !== 1) return fail
      const element = compile(ast.rest[0]!.type)
      if (element === identity) return (value) => Array.isArray(value) ? value : fail()
      return (value) => Array.isArray(value) ? value.map(element) : fail()
    }
    case "Union":
      return compileUnion(ast)
    default:
      return fail
  }
}

const compileTransformation = (ast: SchemaAST.Transformation): Build => {
  const transformation = ast.transformation
  if (transformation._tag === "TypeLiteralTransformation") {
    const fill = compileFields(ast)
    return (value) => {
      const out: Record<PropertyKey, unknown> = {}
      fill(value, out)
      return out
    }
  }
  if (transformation._tag !== "FinalTransformation") return fail
  const built = ast.to._tag === "Declaration" ? compileClass(ast, transformation) : undefined
  if (built !== undefined) return built
  const from = compile(ast.from)
  return (value) => {
    const result = transformation.decode(from(value), {}, ast, value)
    return Either.isEither(result) && Either.isRight(result) ? result.right : fail()
  }
}

/**
 * A Schema class (a final transformation from its fields to a declaration):
 * built by prototype when its constructor does nothing but assign its
 * fields. Checked on a probe instance built with validation off; anything
 * else (a class with its own instance fields) is left to its constructor.
 */
const compileClass = (ast: SchemaAST.Transformation, transformation: SchemaAST.FinalTransformation): Build | undefined => {
  const names = fieldNames(ast.from)
  if (names === undefined) return undefined
  let probe: unknown
  try {
    const result = transformation.decode({}, {}, ast, {})
    probe = Either.isEither(result) && Either.isRight(result) ? result.right : undefined
  } catch {
    return undefined
  }
  if (typeof probe !== "object" || probe === null) return undefined
  if (Reflect.ownKeys(probe).some((key) => !names.has(key))) return undefined
  const prototype = Object.getPrototypeOf(probe) as object
  if (prototype === Object.prototype) return undefined
  // The constructor of a tagged class re-adds `_tag` after the other fields: same key order here.
  const tagged = Object.prototype.hasOwnProperty.call(probe, "_tag")
  if (ast.from._tag === "TypeLiteral") {
    const fill = compileFields(ast.from, tagged ? "_tag" : undefined)
    return (value) => {
      const out = Object.create(prototype) as Record<PropertyKey, unknown>
      fill(value, out)
      return out
    }
  }
  // Fields with defaults: decoded into a temporary struct (its transformations move the keys they write to the
  // end), then copied onto the instance in the order the constructor would give them, `_tag` last.
  const fill = compileFields(ast.from)
  const order = [...keyOrder(ast.from).filter((key) => !tagged || key !== "_tag"), ...(tagged ? ["_tag"] : [])]
  return (value) => {
    const props: Record<PropertyKey, unknown> = {}
    fill(value, props)
    const out = Object.create(prototype) as Record<PropertyKey, unknown>
    for (let i = 0; i < order.length; i++) {
      const key = order[i]!
      if (key in props) out[key] = props[key]
    }
    return out
  }
}

/** The key order of a decoded struct: its properties, those a transformation writes moved to the end. */
const keyOrder = (ast: SchemaAST.AST): Array<PropertyKey> => {
  if (ast._tag === "TypeLiteral") return ast.propertySignatures.map((signature) => signature.name)
  if (ast._tag === "Transformation" && ast.transformation._tag === "TypeLiteralTransformation") {
    const properties = ast.transformation.propertySignatureTransformations
    const moved = new Set<PropertyKey>(properties.flatMap((property) => [property.from, property.to]))
    return [...keyOrder(ast.from).filter((key) => !moved.has(key)), ...properties.map((property) => property.to)]
  }
  return []
}

/** A record (`{ [key: string]: V }`): no fixed fields, one string index signature. */
export const isRecord = (ast: SchemaAST.TypeLiteral): boolean => {
  if (ast.propertySignatures.length > 0 || ast.indexSignatures.length !== 1) return false
  let parameter: SchemaAST.AST = ast.indexSignatures[0]!.parameter
  while (parameter._tag === "Refinement") parameter = parameter.from
  return parameter._tag === "StringKeyword"
}

/** The property names a struct has once decoded, if it is one. */
const fieldNames = (ast: SchemaAST.AST): Set<PropertyKey> | undefined => {
  if (ast._tag === "TypeLiteral") return new Set(ast.propertySignatures.map((signature) => signature.name))
  if (ast._tag === "Transformation" && ast.transformation._tag === "TypeLiteralTransformation") {
    const names = fieldNames(ast.from)
    if (names === undefined) return undefined
    for (const property of ast.transformation.propertySignatureTransformations) {
      names.delete(property.from)
      names.add(property.to)
    }
    return names
  }
  return undefined
}

/** The fields of a struct (possibly with defaults or renamed keys), written onto a target; `last` goes last. */
const compileFields = (ast: SchemaAST.AST, last?: PropertyKey): Fill => {
  if (ast._tag === "Transformation" && ast.transformation._tag === "TypeLiteralTransformation") {
    const from = compileFields(ast.from, last)
    const properties = ast.transformation.propertySignatureTransformations
    return (value, out) => {
      from(value, out)
      for (const property of properties) {
        const present = property.from in out ? Option.some(out[property.from]) : Option.none()
        delete out[property.from]
        const decoded = property.decode(present)
        if (Option.isSome(decoded)) out[property.to] = decoded.value
      }
    }
  }
  if (ast._tag !== "TypeLiteral" || ast.indexSignatures.length > 0) return fail
  const signatures = last === undefined ? ast.propertySignatures : [
    ...ast.propertySignatures.filter((signature) => signature.name !== last),
    ...ast.propertySignatures.filter((signature) => signature.name === last)
  ]
  const fields = signatures.map((signature) => ({
    name: signature.name,
    optional: signature.isOptional,
    build: compile(signature.type)
  }))
  return (value, out) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return fail()
    const record = value as Record<PropertyKey, unknown>
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!
      const present = record[field.name]
      if (present !== undefined || field.name in record) out[field.name] = field.build(present)
      else if (!field.optional) fail()
    }
  }
}

/** A member that renames one literal into another (`Schema.transformLiteral`): its two literals. */
export const literalRename = (ast: SchemaAST.AST): { readonly from: unknown; readonly to: unknown } | undefined =>
  ast._tag === "Transformation" && ast.from._tag === "Literal" && ast.to._tag === "Literal" &&
    ast.transformation._tag === "FinalTransformation"
    ? { from: ast.from.literal, to: ast.to.literal }
    : undefined

/**
 * A union member told apart by its JSON type: not a literal, a renamed literal or a tagged member
 * (each found by value), nor `undefined` (an optional field's type, which never comes out of JSON).
 */
export const isUntagged = (member: SchemaAST.AST): boolean =>
  member._tag !== "Literal" && member._tag !== "UndefinedKeyword" && literalRename(member) === undefined &&
  tagOf(member) === undefined

/** The members of a union, nested unions flattened. */
export const membersOf = (ast: SchemaAST.Union): Array<SchemaAST.AST> =>
  ast.types.flatMap((member) => member._tag === "Union" ? membersOf(member) : [member])

const compileUnion = (ast: SchemaAST.Union): Build => {
  const literals = new Set<unknown>()
  const tagged = new Map<unknown, Build>()
  // A literal renamed (`Schema.transformLiteral`, e.g. an older spelling): decoded to its new spelling.
  const renamed = new Map<unknown, unknown>()
  const members = membersOf(ast)
  for (const member of members) {
    if (member._tag === "Literal") {
      literals.add(member.literal)
      continue
    }
    const rename = literalRename(member)
    if (rename !== undefined) {
      if (!renamed.has(rename.from)) renamed.set(rename.from, rename.to)
      continue
    }
    const tag = tagOf(member)
    if (tag !== undefined) tagged.set(tag, compile(member))
  }
  // Untagged members are told apart by their JSON type (string, number, array, object): one each at most.
  const byType = new Map<string, Build>()
  for (const member of members) {
    if (!isUntagged(member)) continue
    const type = jsonType(member)
    if (type === undefined || byType.has(type) || (type === "object" && tagged.size > 0)) return fail
    byType.set(type, compile(member))
  }
  return (value) => {
    if (literals.has(value)) return value
    if (renamed.has(value)) return renamed.get(value)
    const type = value === null ? "null" : Array.isArray(value) ? "array" : typeof value
    if (type === "object" && tagged.size > 0) {
      const build = tagged.get((value as { readonly _tag?: unknown })._tag)
      return build === undefined ? fail() : build(value)
    }
    const build = byType.get(type)
    return build === undefined ? fail() : build(value)
  }
}

/** The JSON type of a member's encoded values, when it has a single one. */
export const jsonType = (ast: SchemaAST.AST): string | undefined => {
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
export const tagOf = (ast: SchemaAST.AST): unknown => {
  let side = ast
  while (side._tag === "Transformation") side = side.from
  if (side._tag !== "TypeLiteral") return undefined
  const tag = side.propertySignatures.find((signature) => signature.name === "_tag")
  return tag !== undefined && tag.type._tag === "Literal" ? tag.type.literal : undefined
}

let event: Build | undefined = undefined
let payload: Build | undefined = undefined

/**
 * Does `Event.unsafeMake` build what the compiled decoder of `Event` builds
 * from already decoded fields? It does while the event's fields are exactly
 * `sequence`, `author`, `timestamp` (each decoded as it is encoded) and
 * `payload` (a `Payload`), in that order: then the envelope is built
 * directly, with one shape (no field-by-field copy onto `Object.create`).
 */
const envelopeKnown = (): boolean => {
  const fields = Event.Event.fields as Record<string, { readonly ast: SchemaAST.AST }>
  const names = Object.keys(fields)
  return names.join(",") === "sequence,author,timestamp,payload" &&
    compile(fields.sequence!.ast) === identity && compile(fields.author!.ast) === identity &&
    compile(fields.timestamp!.ast) === identity && fields.payload!.ast === Event.Payload.ast
}
let envelope: boolean | undefined = undefined

/** The payload this encoded value stands for, or `undefined` when the trusted path cannot build it. */
export const decodePayload = (value: unknown): Event.Payload | undefined => {
  try {
    return (payload ??= compile(Event.Payload.ast))(value) as Event.Payload
  } catch {
    return undefined
  }
}

/**
 * The event of an envelope read field by field (a journal that stores the
 * envelope outside the payload's JSON, or reads it off the line itself):
 * `undefined` when the trusted path cannot build it — the payload does not
 * fit, or `Event` has other fields than the four this builds.
 */
export const makeEvent = (sequence: number, author: string, timestamp: number, encoded: unknown): Event.Event | undefined => {
  if (!(envelope ??= envelopeKnown())) return undefined
  const decoded = decodePayload(encoded)
  return decoded === undefined ? undefined : Event.unsafeMake({ sequence, author, timestamp, payload: decoded })
}

/**
 * The event of an envelope read field by field around a payload already
 * built (a delta read off a journal line): `undefined` when `Event` has other
 * fields than the four this builds.
 */
export const eventOf = (sequence: number, author: string, timestamp: number, payload: Event.Payload): Event.Event | undefined =>
  (envelope ??= envelopeKnown()) ? Event.unsafeMake({ sequence, author, timestamp, payload }) : undefined

/** The event this encoded value stands for, or `undefined` when the trusted path cannot build it. */
export const decodeEvent = (value: unknown): Event.Event | undefined => {
  try {
    if ((envelope ??= envelopeKnown()) && typeof value === "object" && value !== null) {
      const { author, payload: encoded, sequence, timestamp } = value as Record<string, unknown>
      // JSON never gives `undefined`: a missing field goes to the compiled decoder, which gives up on it.
      if (sequence !== undefined && author !== undefined && timestamp !== undefined && encoded !== undefined) {
        const decoded = (payload ??= compile(Event.Payload.ast))(encoded) as Event.Payload
        return Event.unsafeMake({ sequence: sequence as number, author: author as string, timestamp: timestamp as number, payload: decoded })
      }
    }
    const built = (event ??= compile(Event.Event.ast))(value)
    return built instanceof Event.Event ? built : undefined
  } catch {
    return undefined
  }
}
