/**
 * An agent's hooks, combined once when it starts: each hook point is one function that
 * runs every configured hook in order, threading rewrites and stopping at the first veto,
 * skip or ignore. Call sites call one function; none folds the list by hand.
 *
 * @internal
 */
import { Effect } from "effect"
import type * as Agent from "../../Agent.js"
import * as ContextItem from "../../ContextItem.js"
import type * as Event from "../../Event.js"
import type * as Tool from "../../Tool.js"

/** Runs one hook's effect, turning its failure into the agent's hook error (interruption passes). */
export type Guard<E> = <A>(hook: string, effect: Effect.Effect<A, unknown>) => Effect.Effect<A, E>

/** The hook points, each a single function. */
export interface Combined<E> {
  readonly onUserMessage: (message: ContextItem.Message, event: Event.Event) => Effect.Effect<boolean, E>
  readonly beforeInference: (input: {
    readonly runId: string
    readonly turn: number
    readonly items: ReadonlyArray<ContextItem.ContextItem>
    readonly tools: ReadonlyArray<Tool.Definition>
  }) => Effect.Effect<
    | { readonly skip: true }
    | { readonly skip: false; readonly items: ReadonlyArray<ContextItem.ContextItem>; readonly tools: ReadonlyArray<Tool.Definition> },
    E
  >
  /** `afterInference`, then `onModelMessage` for each message produced, hook by hook. */
  readonly afterInference: (output: {
    readonly runId: string
    readonly turn: number
    readonly items: ReadonlyArray<ContextItem.ContextItem>
    readonly usage: Event.Usage
  }) => Effect.Effect<void, E>
  readonly beforeFunctionCall: (
    call: ContextItem.FunctionCall
  ) => Effect.Effect<{ readonly veto: string } | { readonly call: ContextItem.FunctionCall }, E>
  readonly afterFunctionCall: (call: ContextItem.FunctionCall, result: Tool.Result) => Effect.Effect<Tool.Result, E>
}

/** No hooks: one value shared by every agent that has none (an idle agent holds no closures of its own). */
const none: Combined<never> = {
  onUserMessage: () => Effect.succeed(true),
  beforeInference: ({ items, tools }) => Effect.succeed({ skip: false as const, items, tools }),
  afterInference: () => Effect.void,
  beforeFunctionCall: (call) => Effect.succeed({ call }),
  afterFunctionCall: (_call, result) => Effect.succeed(result)
}

/** Combines the hooks of an agent's options. */
export const combine = <E>(hooks: Agent.Options["hooks"], guard: Guard<E>): Combined<E> => {
  const all: ReadonlyArray<Agent.Hooks> = hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks as Agent.Hooks]
  if (all.length === 0) return none
  const having = <K extends keyof Agent.Hooks>(key: K) =>
    all.flatMap((hook) => hook[key] === undefined ? [] : [hook[key] as NonNullable<Agent.Hooks[K]>])
  const onUserMessage = having("onUserMessage")
  const beforeInference = having("beforeInference")
  const beforeFunctionCall = having("beforeFunctionCall")
  const afterFunctionCall = having("afterFunctionCall")
  const after = all.filter((hook) => hook.afterInference !== undefined || hook.onModelMessage !== undefined)
  return {
    onUserMessage: (message, event) =>
      Effect.gen(function*() {
        for (const hook of onUserMessage) {
          const decision = yield* guard("onUserMessage", hook(message, event))
          if (decision !== undefined && decision.ignore) return false
        }
        return true
      }),
    beforeInference: (input) =>
      Effect.gen(function*() {
        let { items, tools } = input
        for (const hook of beforeInference) {
          const decision = yield* guard("beforeInference", hook({ ...input, items, tools }))
          if (decision === undefined) continue
          if ("skip" in decision) return { skip: true as const }
          if (decision.items !== undefined) items = decision.items
          if (decision.tools !== undefined) tools = decision.tools
        }
        return { skip: false as const, items, tools }
      }),
    afterInference: (output) =>
      Effect.gen(function*() {
        for (const hook of after) {
          if (hook.afterInference !== undefined) yield* guard("afterInference", hook.afterInference(output))
          if (hook.onModelMessage === undefined) continue
          for (const item of output.items) {
            if (item._tag === "ModelMessage") yield* guard("onModelMessage", hook.onModelMessage(item))
          }
        }
      }),
    beforeFunctionCall: (original) =>
      Effect.gen(function*() {
        let call = original
        for (const hook of beforeFunctionCall) {
          const decision = yield* guard("beforeFunctionCall", hook(call))
          if (decision === undefined) continue
          if ("veto" in decision) return { veto: decision.veto }
          call = new ContextItem.FunctionCall({ ...call, arguments: decision.arguments }, true)
        }
        return { call }
      }),
    afterFunctionCall: (call, first) =>
      Effect.gen(function*() {
        let result = first
        for (const hook of afterFunctionCall) {
          const decision = yield* guard("afterFunctionCall", hook(call, result))
          if (decision !== undefined) result = decision.output
        }
        return result
      })
  }
}
