// Validating an elicitation answer against the requested schema (MCP 2025-11-25): a flat object of primitive
// fields. Defaults are applied to omitted fields (SEP-1034); enums are checked in every form the spec allows
// (SEP-1330: `enum` with `enumNames`, `oneOf` of `const`s, and multi-select arrays of `enum` / `anyOf` items).
import { Either } from "effect"

type Value = string | number | boolean | ReadonlyArray<string>
type Json = Readonly<Record<string, unknown>>

const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

/** The allowed values of an enum field (single-select), or undefined when the field is not an enum. */
const choices = (field: Json): ReadonlyArray<string> | undefined => {
  if (Array.isArray(field.enum)) return field.enum.filter((value): value is string => typeof value === "string")
  const options = Array.isArray(field.oneOf) ? field.oneOf : Array.isArray(field.anyOf) ? field.anyOf : undefined
  if (options === undefined) return undefined
  return options.flatMap((option) => isRecord(option) && typeof option.const === "string" ? [option.const] : [])
}

const formats: Record<string, (text: string) => boolean> = {
  email: (text) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text),
  uri: (text) => {
    try {
      return new URL(text).protocol.length > 1
    } catch {
      return false
    }
  },
  date: (text) => /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(text)),
  "date-time": (text) => /^\d{4}-\d{2}-\d{2}T/.test(text) && !Number.isNaN(Date.parse(text))
}

const checkString = (name: string, field: Json, value: unknown): string | undefined => {
  if (typeof value !== "string") return `"${name}" must be a string`
  const allowed = choices(field)
  if (allowed !== undefined && !allowed.includes(value)) {
    return `"${name}" must be one of ${allowed.map((choice) => JSON.stringify(choice)).join(", ")}`
  }
  if (typeof field.minLength === "number" && value.length < field.minLength) {
    return `"${name}" must have at least ${field.minLength} characters`
  }
  if (typeof field.maxLength === "number" && value.length > field.maxLength) {
    return `"${name}" must have at most ${field.maxLength} characters`
  }
  const format = typeof field.format === "string" ? formats[field.format] : undefined
  if (format !== undefined && !format(value)) return `"${name}" must be a valid ${String(field.format)}`
  return undefined
}

const checkNumber = (name: string, field: Json, value: unknown): string | undefined => {
  if (typeof value !== "number" || !Number.isFinite(value)) return `"${name}" must be a number`
  if (field.type === "integer" && !Number.isInteger(value)) return `"${name}" must be an integer`
  if (typeof field.minimum === "number" && value < field.minimum) return `"${name}" must be at least ${field.minimum}`
  if (typeof field.maximum === "number" && value > field.maximum) return `"${name}" must be at most ${field.maximum}`
  return undefined
}

const checkArray = (name: string, field: Json, value: unknown): string | undefined => {
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    return `"${name}" must be an array of strings`
  }
  const allowed = isRecord(field.items) ? choices(field.items) : undefined
  const wrong = allowed === undefined ? undefined : value.find((item) => !allowed.includes(item))
  if (wrong !== undefined) return `"${name}" may only hold ${allowed!.map((choice) => JSON.stringify(choice)).join(", ")}`
  if (typeof field.minItems === "number" && value.length < field.minItems) {
    return `"${name}" must have at least ${field.minItems} items`
  }
  if (typeof field.maxItems === "number" && value.length > field.maxItems) {
    return `"${name}" must have at most ${field.maxItems} items`
  }
  return undefined
}

const check = (name: string, field: Json, value: unknown): string | undefined => {
  switch (field.type) {
    case "string":
      return checkString(name, field, value)
    case "number":
    case "integer":
      return checkNumber(name, field, value)
    case "boolean":
      return typeof value === "boolean" ? undefined : `"${name}" must be true or false`
    case "array":
      return checkArray(name, field, value)
    default:
      return choices(field) !== undefined ? checkString(name, field, value) : `"${name}" has an unsupported type`
  }
}

/**
 * The content with the schema's defaults filled in for omitted fields, or the list of problems: a missing
 * required field, a value of the wrong type or outside its enum, bounds or format, a field the schema does not have.
 */
export const validate = (
  requestedSchema: Json,
  content: Readonly<Record<string, unknown>>
): Either.Either<Record<string, Value>, ReadonlyArray<string>> => {
  const properties = isRecord(requestedSchema.properties) ? requestedSchema.properties : {}
  const required = Array.isArray(requestedSchema.required) ? requestedSchema.required : []
  const problems: Array<string> = []
  const result: Record<string, Value> = {}
  for (const key of Object.keys(content)) {
    if (!(key in properties)) problems.push(`"${key}" is not a field of the form`)
  }
  for (const [name, field] of Object.entries(properties)) {
    if (!isRecord(field)) continue
    const value = content[name] ?? field.default
    if (value === undefined) {
      if (required.includes(name)) problems.push(`"${name}" is required`)
      continue
    }
    const problem = check(name, field, value)
    if (problem === undefined) result[name] = value as Value
    else problems.push(problem)
  }
  return problems.length === 0 ? Either.right(result) : Either.left(problems)
}
