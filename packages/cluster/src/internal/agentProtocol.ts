/**
 * The agent entity's protocol and the registry of hosted agents: shared by the agent entity (which runs them)
 * and the environment entity (which wakes them), with no dependency on either.
 *
 * @internal
 */
import { Entity } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { Context, Schema } from "effect"
import type { Environment, Event, Participant } from "@chorus/core"

/** No agent of this name is in this node's registry. */
export class AgentNotRegistered extends Schema.TaggedError<AgentNotRegistered>()("AgentNotRegistered", {
  agent: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `agent "${this.agent}" cannot be hosted here: ${this.detail}`
  }
}

/** The protocol of an agent entity, keyed by environment id and agent name (see {@link agentEntityId}). */
export const AgentEntity = Entity.make("chorus/Agent", [
  // Makes sure the agent is in its environment and running; answers where it runs.
  Rpc.make("Wake", { success: Schema.String, error: AgentNotRegistered }),
  // Takes the agent out of its environment (it is not woken again).
  Rpc.make("Leave", {}),
  Rpc.make("Where", { success: Schema.String })
])

/** The entity id of an agent in an environment: both parts URI-encoded, joined by `/`. */
export const agentEntityId = (environmentId: string, agent: string): string =>
  `${encodeURIComponent(environmentId)}/${encodeURIComponent(agent)}`

/** The environment id and the agent name of an agent entity id, or undefined when it is not one. */
export const parseAgentEntityId = (
  entityId: string
): { readonly environmentId: string; readonly agent: string } | undefined => {
  const parts = entityId.split("/")
  if (parts.length !== 2 || parts[0] === "" || parts[1] === "") return undefined
  try {
    return { environmentId: decodeURIComponent(parts[0]!), agent: decodeURIComponent(parts[1]!) }
  } catch {
    return undefined
  }
}

/** How a node builds a hosted agent: the participant for an environment, its generators from this node. */
export interface Definition {
  readonly participant: (environmentId: string) => Participant.Participant<unknown, Environment.Environment>
}

/** The agents this node can host, by name. Every runner of a cluster registers the same names. */
export interface Registry {
  readonly agents: ReadonlyMap<string, Definition>
}

/** The registry tag. */
export class AgentRegistry extends Context.Tag("@chorus/cluster/AgentRegistry")<AgentRegistry, Registry>() {}

/** Whether an agent in this state is running (in inference or running function calls). */
export const isBusy = (state: Event.AgentState): boolean => state === "inference" || state === "function_calls"

/** Whether an event is of a kind that may make an idle (or waiting) agent act, when someone else publishes it. */
export const mayWake = (event: Event.Event): boolean => {
  switch (event.payload._tag) {
    case "ItemDone":
    case "ApprovalAnswered":
    case "ClarificationAnswered":
    case "InterruptRequested":
      return true
    default:
      return false
  }
}

/**
 * Whether an event may make an idle (or waiting) agent act, so its entity must be awake: a finished item, an
 * approval or clarification answer, an interrupt, from someone else. Deltas and state changes never do.
 */
export const wakes = (agent: string, event: Event.Event): boolean => event.author !== agent && mayWake(event)
