/**
 * How the routes find the environment a request is about: one environment
 * for every request, or one per conversation, looked up by the id in the path
 * (`/conversations/:conversation/…`).
 *
 * @since 0.1.0
 */
import type { Environment } from "@chorus/core"
import { Effect, Option } from "effect"

/** Finds environments by conversation id. */
export interface Conversations {
  /** `single`: every request reads one environment; `keyed`: the path names the conversation. */
  readonly mode: "single" | "keyed"
  readonly get: (id: string) => Effect.Effect<Option.Option<Environment.Service>>
}

/** One environment for every request. */
export const single = (env: Environment.Service): Conversations => ({
  mode: "single",
  get: () => Effect.succeed(Option.some(env))
})

/**
 * One environment per conversation: `lookup` finds (or creates) the
 * environment of an id, or answers none (the request gets a 404).
 *
 * @example
 * import { Effect, Option } from "effect"
 * import type { Environment } from "@chorus/core"
 * import { Conversations } from "@chorus/server"
 *
 * declare const open: Map<string, Environment.Service>
 * const conversations = Conversations.keyed((id) => Effect.succeed(Option.fromNullable(open.get(id))))
 */
export const keyed = (lookup: (id: string) => Effect.Effect<Option.Option<Environment.Service>>): Conversations => ({
  mode: "keyed",
  get: lookup
})
