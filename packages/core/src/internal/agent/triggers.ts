/**
 * Which messages start a run of an agent, as a pure decision: `true`, `false`, or
 * `"unless-agent"` when the answer depends on whether the author is an agent (a fact the
 * caller looks up only then).
 *
 * @internal
 */
import type * as Agent from "../../Agent.js"
import * as ContextItem from "../../ContextItem.js"
import type * as Event from "../../Event.js"

export type Reaction = boolean | "unless-agent"

/** Is the message addressed to agent `me` (`to` holds its id, or the text mentions `@me`)? */
export const addressedTo = (me: string, item: ContextItem.Message, done: Event.ItemDone): boolean =>
  done.to.includes(me) || ContextItem.text(item).includes(`@${me}`)

/** Does the message start a run of agent `me`? */
export const reaction = (
  me: string,
  reactTo: Agent.ReactTo,
  item: ContextItem.Message,
  event: Event.Event,
  done: Event.ItemDone
): Reaction => {
  if (item.author === me || item.status !== "completed") return false
  if (item._tag !== "UserMessage" && item._tag !== "ModelMessage") return false
  if (done.to.length > 0 && !done.to.includes(me)) return false
  if (typeof reactTo === "function") return reactTo(item, event, done)
  if (addressedTo(me, item, done)) return true
  if (reactTo === "addressed") return false
  if (reactTo === "messages") return item._tag === "UserMessage" ? "unless-agent" : false
  return reactTo.from.includes(item.author)
}
