/**
 * A toolkit: a set of local tools, and the {@link FunctionCallRunner} that
 * runs them.
 *
 * The runner never lets bad input crash an agent: an unknown tool, arguments
 * that are not JSON or fail the parameter schema, and a handler that fails or
 * dies each become a {@link FunctionCallRunner.FunctionCallError} whose message
 * tells the model what to fix. Interruption is not caught: it stops the
 * handler.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Layer, Option, ParseResult, Schema } from "effect"
import * as FunctionCallRunner from "./FunctionCallRunner.js"
import type * as Tool from "./Tool.js"

/** A set of local tools. */
export interface Toolkit<R = never> {
  readonly tools: ReadonlyArray<Tool.Any>
  readonly definitions: ReadonlyArray<Tool.Definition>
  /** The runner for these tools; handlers' requirements are captured when it is built. */
  readonly runner: Effect.Effect<FunctionCallRunner.Service, never, R>
  /** The runner as a layer. */
  readonly layer: Layer.Layer<FunctionCallRunner.FunctionCallRunner, never, R>
}

type Requirements<T> = T extends Tool.Tool<any, any, infer R> ? R : never

const render = (value: unknown): Tool.Result => {
  if (typeof value === "string") return { output: value, isError: false }
  if (value === undefined) return { output: "", isError: false }
  return { output: JSON.stringify(value), isError: false }
}

const errorDetail = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  return String(error)
}

/**
 * Makes a toolkit.
 *
 * @example
 * import { Effect, Schema } from "effect"
 * import { Tool, Toolkit } from "@chorus/core"
 *
 * const echo = Tool.make("echo", {
 *   description: "Repeats the text",
 *   parameters: Schema.Struct({ text: Schema.String }),
 *   handler: ({ text }) => Effect.succeed(text)
 * })
 * const toolkit = Toolkit.make(echo)
 * // provide `toolkit.layer` to an agent
 */
export const make = <const Tools extends ReadonlyArray<Tool.Any>>(
  ...tools: Tools
): Toolkit<Requirements<Tools[number]>> => {
  const byName = new Map<string, Tool.Any>()
  for (const tool of tools) {
    if (byName.has(tool.definition.name)) throw new Error(`Toolkit.make: two tools are named "${tool.definition.name}"`)
    byName.set(tool.definition.name, tool)
  }
  const definitions = tools.map((tool) => tool.definition)
  const runner = Effect.map(Effect.context<Requirements<Tools[number]>>(), (context): FunctionCallRunner.Service => ({
    tools: Effect.succeed(definitions),
    run: ({ call, progress }) => {
      const tool = byName.get(call.name)
      if (tool === undefined) {
        return Effect.fail(
          new FunctionCallRunner.FunctionCallError({
            reason: "unknown_tool",
            name: call.name,
            detail: `Available tools: ${[...byName.keys()].join(", ") || "none"}.`
          })
        )
      }
      return Effect.gen(function*() {
        let json: unknown
        try {
          json = call.arguments.trim() === "" ? {} : JSON.parse(call.arguments)
        } catch (error) {
          return yield* new FunctionCallRunner.FunctionCallError({
            reason: "invalid_arguments",
            name: call.name,
            detail: `the arguments are not valid JSON (${errorDetail(error)}).`
          })
        }
        const params = yield* Schema.decodeUnknown(tool.parameters, { errors: "all" })(json).pipe(
          Effect.mapError((error) =>
            new FunctionCallRunner.FunctionCallError({
              reason: "invalid_arguments",
              name: call.name,
              detail: ParseResult.TreeFormatter.formatErrorSync(error)
            })
          )
        )
        const value = yield* tool.handler(params, { call, progress }).pipe(
          Effect.catchAllCause((cause) => {
            if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
            const failure = Cause.failureOption(cause)
            return Effect.fail(
              Option.isSome(failure)
                ? new FunctionCallRunner.FunctionCallError({
                  reason: "failed",
                  name: call.name,
                  detail: errorDetail(failure.value),
                  cause: failure.value
                })
                : new FunctionCallRunner.FunctionCallError({
                  reason: "crashed",
                  name: call.name,
                  detail: `the tool crashed: ${errorDetail(Cause.squash(cause))}`,
                  cause: Cause.squash(cause)
                })
            )
          })
        )
        return render(value)
      }).pipe(Effect.provide(context)) as Effect.Effect<Tool.Result, FunctionCallRunner.FunctionCallError>
    }
  }))
  return {
    tools,
    definitions,
    runner,
    layer: Layer.effect(FunctionCallRunner.FunctionCallRunner, runner)
  }
}

/** A runner with no tools. */
export const empty: Toolkit<never> = make()
