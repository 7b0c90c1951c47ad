/**
 * A toolkit: a set of local tools, and the {@link FunctionCallRunner} that
 * runs them.
 *
 * The runner never lets bad input crash an agent: an unknown tool, arguments
 * that are not JSON or fail the parameter schema, and a handler that fails or
 * dies (or throws, or returns what JSON cannot hold) each become a
 * {@link FunctionCallRunner.FunctionCallError} whose message tells the model what to
 * fix; details quoting the model's input are clipped. Interruption is not caught: it stops the
 * handler.
 *
 * @since 0.1.0
 */
import { Cause, Context, Effect, Layer, Option, ParseResult, Schema } from "effect"
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

/** A handler's value as output text; what JSON cannot hold (a `BigInt`, a cycle) is a typed error. */
const render = (name: string, value: unknown): Effect.Effect<Tool.Result, FunctionCallRunner.FunctionCallError> => {
  if (typeof value === "string") return Effect.succeed({ output: value, isError: false })
  if (value === undefined) return Effect.succeed({ output: "", isError: false })
  return Effect.try({
    try: () => ({ output: JSON.stringify(value) ?? "", isError: false }),
    catch: (error) =>
      new FunctionCallRunner.FunctionCallError({
        reason: "failed",
        name,
        detail: `the tool returned a value that cannot be sent as JSON (${errorDetail(error)}).`,
        cause: error
      })
  })
}

/** Error details quote the model's input: keep them short (a 1 MB argument is not echoed back). */
const maxDetail = 500
const clip = (text: string): string =>
  text.length <= maxDetail ? text : `${text.slice(0, maxDetail)}… (${text.length - maxDetail} more characters)`

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
  type R = Requirements<Tools[number]>
  const service = (context: Context.Context<R>): FunctionCallRunner.Service => ({
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
            detail: clip(`the arguments are not valid JSON (${errorDetail(error)}).`)
          })
        }
        const params = yield* Schema.decodeUnknown(tool.parameters, { errors: "all" })(json).pipe(
          Effect.mapError((error) =>
            new FunctionCallRunner.FunctionCallError({
              reason: "invalid_arguments",
              name: call.name,
              detail: clip(ParseResult.TreeFormatter.formatErrorSync(error))
            })
          )
        )
        // A handler that throws instead of returning an effect is a crash like any other.
        const value = yield* Effect.suspend(() => tool.handler(params, { call, progress })).pipe(
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
        return yield* render(call.name, value)
      }).pipe(Effect.provide(context)) as Effect.Effect<Tool.Result, FunctionCallRunner.FunctionCallError>
    }
  })
  // The context the handlers run in, as it is where the runner is built — without the layer build's own
  // services (its memo map, which holds every layer built with it: ~2 KiB an agent kept alive per join).
  const runner = Effect.map(
    Effect.context<R>(),
    (context) => service(Context.omit(Layer.CurrentMemoMap)(context) as Context.Context<R>)
  )
  return {
    tools,
    definitions,
    runner,
    // No tools, no handler to give a context: one runner, shared by every agent it is provided to.
    layer: tools.length === 0
      ? Layer.succeed(FunctionCallRunner.FunctionCallRunner, service(Context.empty() as Context.Context<R>))
      : Layer.effect(FunctionCallRunner.FunctionCallRunner, runner)
  }
}

/** A runner with no tools. */
export const empty: Toolkit<never> = make()
