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
import { Effect, JSONSchema, Schema } from "effect"
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

/** The JSON Schema of a parameter schema, without a top-level `$ref`. */
export const jsonSchema = <A, I>(schema: Schema.Schema<A, I, never>): JsonSchema => {
  const definitions: Record<string, JSONSchema.JsonSchema7> = {}
  const root = JSONSchema.fromAST(schema.ast, { definitions, topLevelReferenceStrategy: "skip" }) as unknown as Record<
    string,
    unknown
  >
  const { $schema: _ignored, ...rest } = root
  return Object.keys(definitions).length === 0 ? rest : { ...rest, $defs: definitions }
}

/** Can this JSON Schema be sent with `strict: true` (every object closed, every property required)? */
export const isStrictCompatible = (schema: unknown): boolean => {
  if (Array.isArray(schema)) return schema.every(isStrictCompatible)
  if (typeof schema !== "object" || schema === null) return true
  const record = schema as Record<string, unknown>
  if (record.type === "object" || "properties" in record) {
    const properties = (record.properties ?? {}) as Record<string, unknown>
    const required = Array.isArray(record.required) ? record.required : []
    if (record.additionalProperties !== false) return false
    if (Object.keys(properties).some((key) => !required.includes(key))) return false
  }
  if ("patternProperties" in record || "propertyNames" in record) return false
  return Object.values(record).every(isStrictCompatible)
}

/**
 * Makes a local tool.
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
  }
): Tool<A, E, R> => {
  const parameters = jsonSchema(options.parameters)
  return {
    definition: {
      name,
      description: options.description,
      parameters,
      strict: isStrictCompatible(parameters),
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
