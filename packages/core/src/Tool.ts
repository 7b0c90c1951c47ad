/**
 * Tools: functions a model can call, with parameters described by a `Schema`.
 *
 * The JSON Schema sent to models is derived from the parameter schema with no
 * top-level `$ref`; a tool is marked `strict` (OpenAI structured outputs) when
 * that JSON Schema allows it: every object closed and every property required.
 * Local tools and MCP tools share {@link Definition}, so an agent sees them
 * the same way.
 *
 * @since 0.1.0
 */
import { Effect, JSONSchema, Schema, SchemaAST } from "effect"
import type * as ContextItem from "./ContextItem.js"

/** A JSON Schema object, as sent to a model. */
export type JsonSchema = { readonly [key: string]: unknown }

/** Behaviour hints (the MCP tool annotations). */
export interface Annotations {
  readonly title?: string | undefined
  readonly readOnly?: boolean | undefined
  readonly destructive?: boolean | undefined
  readonly idempotent?: boolean | undefined
  readonly openWorld?: boolean | undefined
}

/**
 * Whether a call needs a person's approval before it runs: always, never, or
 * a predicate over the decoded JSON arguments.
 */
export type ApprovalPolicy = "always" | "never" | ((args: unknown) => boolean)

/** What a model and the agent know of a tool. */
export interface Definition {
  readonly name: string
  readonly description: string
  readonly parameters: JsonSchema
  readonly strict: boolean
  /** Why `strict` is off, when it is: what in the parameters prevents it, or that the tool's options turned it off. */
  readonly nonStrictReason?: string | undefined
  readonly annotations: Annotations
  readonly approval: ApprovalPolicy
}

/** Progress of a running call. */
export interface Progress {
  readonly progress: number
  readonly total?: number | undefined
  readonly message?: string | undefined
}

/** What a handler gets besides its parameters. */
export interface HandlerContext {
  readonly call: ContextItem.FunctionCall
  readonly progress: (progress: Progress) => Effect.Effect<void>
}

/** What the model sees of a call's result (text or input parts), and optionally what a person sees. */
export interface Result {
  readonly output: string | ReadonlyArray<ContextItem.InputPart>
  readonly isError: boolean
  /** A rendering for people (a UI), kept apart from what the model sees. */
  readonly display?: unknown
}

/** A local tool. */
export interface Tool<A, E = never, R = never> {
  readonly definition: Definition
  readonly parameters: Schema.Schema<A, any, never>
  readonly handler: (params: A, context: HandlerContext) => Effect.Effect<unknown, E, R>
}

/** Any tool, whatever its parameters and error. */
export type Any = Tool<any, any, any>

/**
 * A tool failed in a way its handler chose to report (rather than crash).
 * Its message is what the model sees.
 */
export class ToolFailure extends Schema.TaggedError<ToolFailure>()("ToolFailure", {
  detail: Schema.String
}) {
  override get message() {
    return this.detail
  }
}

/**
 * A tool's definition cannot be sent to a model: its parameters are not an
 * object schema, cannot become JSON Schema, or cannot be `strict` when the
 * options ask for it. Thrown by {@link make} when the tool is defined (a bug
 * in the program, found at startup rather than at the first call).
 */
export class ToolDefinitionError extends Schema.TaggedError<ToolDefinitionError>()("ToolDefinitionError", {
  tool: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `Tool "${this.tool}": ${this.reason}`
  }
}

/** The JSON Schema of a parameter schema, without a top-level `$ref`. Throws when a part has no JSON Schema. */
export const jsonSchema = <A, I>(schema: Schema.Schema<A, I, never>): JsonSchema => {
  // An empty struct is "no parameters"; Effect renders it as "any object or array".
  const encoded = SchemaAST.encodedAST(schema.ast)
  if (SchemaAST.isTypeLiteral(encoded) && encoded.propertySignatures.length === 0 && encoded.indexSignatures.length === 0) {
    return { type: "object", properties: {}, required: [], additionalProperties: false }
  }
  const definitions: Record<string, JSONSchema.JsonSchema7> = {}
  const root = JSONSchema.fromAST(schema.ast, { definitions, topLevelReferenceStrategy: "skip" }) as unknown as Record<
    string,
    unknown
  >
  const { $schema: _ignored, ...rest } = root
  return Object.keys(definitions).length === 0 ? rest : { ...rest, $defs: definitions }
}

const at = (path: string) => (path === "" ? "the parameters" : `"${path}"`)

/**
 * Why this JSON Schema cannot be sent with `strict: true` (OpenAI structured
 * outputs: every object closed, every property required), or `undefined`
 * when it can.
 */
export const strictProblem = (schema: unknown, path = ""): string | undefined => {
  if (Array.isArray(schema)) {
    for (const element of schema) {
      const problem = strictProblem(element, path)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  if (typeof schema !== "object" || schema === null) return undefined
  const record = schema as Record<string, unknown>
  if (record.type === "object" || "properties" in record) {
    const properties = (record.properties ?? {}) as Record<string, unknown>
    const required = Array.isArray(record.required) ? record.required : []
    const optional = Object.keys(properties).find((key) => !required.includes(key))
    if (optional !== undefined) {
      return `${at(path === "" ? optional : `${path}.${optional}`)} is optional, and strict mode needs every ` +
        "property required: use Schema.NullOr for a value the model may leave out"
    }
    if (record.additionalProperties !== false) {
      return `${at(path)} accepts any property name (a Schema.Record or an index signature), and strict mode ` +
        "needs every object closed"
    }
  }
  if ("patternProperties" in record || "propertyNames" in record) {
    return `${at(path)} constrains property names, which strict mode does not support`
  }
  for (const [key, value] of Object.entries(record)) {
    // Named children (properties, definitions) extend the path; the rest (items, anyOf...) keep it.
    const children: Array<[string, unknown]> = (key === "properties" || key === "$defs") && typeof value === "object" && value !== null
      ? Object.entries(value).map(([name, inner]) => [path === "" ? name : `${path}.${name}`, inner])
      : [[path, value]]
    for (const [childPath, child] of children) {
      const problem = strictProblem(child, childPath)
      if (problem !== undefined) return problem
    }
  }
  return undefined
}

/** Can this JSON Schema be sent with `strict: true` (every object closed, every property required)? */
export const isStrictCompatible = (schema: unknown): boolean => strictProblem(schema) === undefined

/** The JSON Schema of a tool's parameters, or the reason it cannot be sent to a model. */
const parametersSchema = (name: string, schema: Schema.Schema<unknown, unknown, never>): JsonSchema => {
  let parameters: JsonSchema
  try {
    parameters = jsonSchema(schema)
  } catch (error) {
    const detail = error instanceof Error ? error.message.replace(/\s*\n\s*/g, "; ") : String(error)
    throw new ToolDefinitionError({
      tool: name,
      reason: `its parameters cannot become JSON Schema (${detail}). Give that part a JSON Schema ` +
        "annotation, or use a schema whose encoded side is JSON (Schema.Date rather than Schema.DateFromSelf)"
    })
  }
  if (parameters.type !== "object") {
    throw new ToolDefinitionError({
      tool: name,
      reason: `its parameters must be an object schema (Schema.Struct or a Schema.Class), because models send ` +
        `arguments as a JSON object; got ${JSON.stringify(parameters)}`
    })
  }
  return parameters
}

/**
 * Makes a local tool.
 *
 * The parameters must be an object schema that can become JSON Schema; any
 * other is refused at once with a {@link ToolDefinitionError} naming the tool.
 * `strict` (OpenAI structured outputs) is on when the JSON Schema allows it;
 * when it does not, the definition says why in `nonStrictReason`. Pass
 * `strict: true` to refuse such parameters instead, `strict: false` to turn
 * it off.
 *
 * @example
 * import { Effect, Schema } from "effect"
 * import { Tool } from "@chorus/core"
 *
 * const add = Tool.make("add", {
 *   description: "Adds two numbers",
 *   parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
 *   handler: ({ a, b }) => Effect.succeed(a + b)
 * })
 */
export const make = <A, I, E = never, R = never>(
  name: string,
  options: {
    readonly description: string
    readonly parameters: Schema.Schema<A, I, never>
    readonly handler: (params: A, context: HandlerContext) => Effect.Effect<unknown, E, R>
    readonly annotations?: Annotations | undefined
    readonly approval?: ApprovalPolicy | undefined
    /** Default: on when the parameters allow it. */
    readonly strict?: boolean | undefined
  }
): Tool<A, E, R> => {
  const parameters = parametersSchema(name, options.parameters as Schema.Schema<unknown, unknown, never>)
  const problem = options.strict === false ? "turned off by the tool's options" : strictProblem(parameters)
  if (options.strict === true && problem !== undefined) {
    throw new ToolDefinitionError({ tool: name, reason: `it asks for strict mode, but ${problem}` })
  }
  return {
    definition: {
      name,
      description: options.description,
      parameters,
      strict: problem === undefined,
      ...(problem === undefined ? {} : { nonStrictReason: problem }),
      annotations: options.annotations ?? {},
      approval: options.approval ?? "never"
    },
    parameters: options.parameters,
    handler: options.handler
  }
}

/** Does this call need approval under the policy? Arguments that are not JSON need none: they fail before running. */
export const needsApproval = (policy: ApprovalPolicy, rawArguments: string): boolean => {
  if (policy === "always") return true
  if (policy === "never") return false
  let args: unknown
  try {
    args = JSON.parse(rawArguments)
  } catch {
    return false
  }
  return policy(args)
}
